"""Writes the fuzz targets' seed corpus: one tiny model (sizes 1 to 4) of
every cell type and option, as a whole .recur file (corpus/file/) and as the
protobuf content the proto target frames itself (corpus/proto/). Small seeds
keep each execution fast and leave the mutator room to grow sizes.

    python tests/fuzz/make_corpus.py tests/fuzz/corpus

The output is committed; rerun this after a format change."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(ROOT / "tests" / "c"))
import recur  # noqa: E402
from recur import writer  # noqa: E402
from make_variant_models import makers  # noqa: E402  (the C tests' layer helpers)


def models():
    rng = np.random.default_rng(9)
    u = lambda *shape: rng.uniform(-0.5, 0.5, size=shape).round(2)
    lstm, gru, rnn = makers(u)

    return {
        "lstm": [lstm(2, 3)],
        "lstm_peephole_clip": [lstm(1, 2, peephole=u(3, 2), clip=1.0, cell_clip=2.0)],
        "lstm_coupled": [lstm(2, 2, coupling="input_from_forget"), lstm(2, 2, coupling="forget_from_input")],
        "lstm_projection_layernorm": [lstm(2, 3, r=2, weight_proj=u(2, 3), bias_proj=u(2), proj_clip=1.0,
                                           layer_norm=1 + u(4, 3))],
        "lstm_functions_initial": [lstm(1, 2, f="hard_sigmoid", g=("leaky_relu", 0.1), h="softsign",
                                        initial_h=u(2), initial_c=u(2))],
        "gru_reset_after_dense": [gru(2, 3), recur.Dense(u(1, 3), u(1))],
        "gru_reset_before": [gru(2, 2, reset_before_matmul=True, clip=3.0)],
        "gru_functions": [gru(1, 2, f=("scaled_tanh", 0.5, 1.0), g="elu", initial_h=u(2))],
        "rnn_relu_dense_softmax": [rnn(2, 3, f="relu"), recur.Dense(u(3, 3), u(3), "softplus"), recur.Softmax(3)],
        "token_lm": [recur.Embedding(u(5, 2)), lstm(2, 3), recur.Dense(u(5, 3), u(5)), recur.Softmax(5)],
        "seq_bidirectional": [lstm(2, 2, direction="bidirectional", backward=lstm(2, 2)),
                              gru(4, 2, direction="reverse"), recur.Dense(u(1, 2), u(1), "tanh")],
        "seq_token_bidirectional_rnn": [recur.Embedding(u(4, 2)),
                                        rnn(2, 2, direction="bidirectional", backward=rnn(2, 2))],
        # Format version 3: attention with each score.
        "attention_general_dot": [lstm(2, 3), recur.Attention("general", 3, 2, weight=u(3, 2)),
                                  recur.Attention("dot", 5, 5, scale=0.5)],
        "token_attention_additive": [recur.Embedding(u(4, 2)), gru(2, 2),
                                     recur.Attention("additive", 2, 3, weight_query=u(2, 2), weight_memory=u(2, 3),
                                                     bias=u(2), v=u(2)), recur.Dense(u(2, 5), u(2))],
    }


def main(out):
    for kind in ("file", "proto"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    reduced = {"lstm": "int8", "gru_reset_after_dense": "bf16", "token_attention_additive": "int8"}
    for name, layers in models().items():
        payload = writer.to_message(layers, producer="make_corpus.py", metadata={"seed": name}).SerializeToString()
        if name in reduced:  # format version 4: the same model with reduced weights, a seed of its own
            weights = reduced[name]
            quantized = writer.to_message(layers, producer="make_corpus.py", metadata={"seed": name}, weights=weights)
            (out / "proto" / f"{name}_{weights}").write_bytes(quantized.SerializeToString())
            (out / "file" / f"{name}_{weights}").write_bytes(writer.frame(quantized.SerializeToString()))
        (out / "proto" / name).write_bytes(payload)
        (out / "file" / name).write_bytes(writer.frame(payload))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
