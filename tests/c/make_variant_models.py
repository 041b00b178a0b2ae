"""Writes one model per cell type and option into OUT_DIR for the C tests
(zero allocations while stepping every kind of layer):

    python tests/c/make_variant_models.py OUT_DIR

NAME.recur steps with recur_step; token_*.recur with recur_step_token;
seq_*.recur (reverse / bidirectional layers) with recur_run after
recur_stream_reserve.

    python tests/c/make_variant_models.py OUT_DIR ATTENTION_DIR

also writes models with attention layers into ATTENTION_DIR, for
test_attention (the other C tests step streams without setting memory)."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
import recur  # noqa: E402


def makers(u):
    """lstm(i, n), gru(i, n) and rnn(i, n) layers with weights from u(*shape)."""
    def lstm(i, n, r=None, **kw):
        return recur.LSTM(u(4 * n, i), u(4 * n, r or n), u(4 * n), u(4 * n), **kw)

    def gru(i, n, **kw):
        return recur.GRU(u(3 * n, i), u(3 * n, n), u(3 * n), u(3 * n), **kw)

    def rnn(i, n, **kw):
        return recur.RNN(u(n, i), u(n, n), u(n), u(n), **kw)

    return lstm, gru, rnn


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    u = lambda *shape: rng.uniform(-0.4, 0.4, size=shape)
    lstm, gru, rnn = makers(u)

    models = {
        "lstm_peephole_clip": [lstm(3, 17, peephole=u(3, 17), clip=1.0, cell_clip=2.0)],
        "lstm_coupled": [lstm(3, 9, coupling="input_from_forget"), lstm(9, 9, coupling="forget_from_input")],
        "lstm_projection_layernorm": [lstm(4, 20, r=6, weight_proj=u(6, 20), bias_proj=u(6), proj_clip=1.0,
                                           layer_norm=1 + u(4, 20))],
        "lstm_functions_initial": [lstm(2, 8, f="hard_sigmoid", g=("leaky_relu", 0.1), h="softsign",
                                        initial_h=u(8), initial_c=u(8))],
        # Format version 2: the survey's peephole matrices (o reads c(t-1)), then Gers' form (o reads c(t)).
        "lstm_peephole_matrix": [lstm(9, 18, peephole_matrix=u(54, 18), output_peephole_previous=True),
                                 lstm(18, 7, peephole_matrix=u(21, 7), peephole=u(3, 7))],
        "gru_reset_before": [gru(5, 18, reset_before_matmul=True, clip=3.0)],
        "gru_functions": [gru(5, 7, f=("scaled_tanh", 0.5, 1.0), g="elu", initial_h=u(7))],
        "rnn_relu_dense": [rnn(3, 12, f="relu"), recur.Dense(u(4, 12), u(4), "softplus")],
        "token_lm": [recur.Embedding(u(50, 10)), lstm(10, 16), recur.Dense(u(50, 16), u(50)), recur.Softmax(50)],
        "seq_bidirectional": [lstm(3, 8, direction="bidirectional", backward=lstm(3, 8)),
                              gru(16, 5, direction="reverse"), recur.Dense(u(2, 5), u(2), "tanh")],
        "seq_token_bidirectional_rnn": [recur.Embedding(u(30, 4)),
                                        rnn(4, 6, direction="bidirectional", backward=rnn(4, 6))],
        # A stream of over 256 KiB (the dense output vector), for test_handles.
        "big_stream": [rnn(2, 8), recur.Dense(u(65536, 8), u(65536), "tanh")],
        # 300 layers, for test_loading (Swift allocations independent of the layer count).
        "deep": [recur.Dense(u(4, 4), u(4), "tanh") for _ in range(300)],
    }
    for name, layers in models.items():
        recur.save(out / f"{name}.recur", layers, metadata={"source": "make_variant_models.py", "name": name})
    # Format version 4: reduced-precision weights (the C tests load them with
    # RECUR_WEIGHTS_NARROW: the fused cells and dense layers run narrow kernels,
    # the others are widened at load).
    reduced = {
        "lstm_int8": ([lstm(5, 24), recur.Dense(u(3, 24), u(3))], "int8"),
        "gru_bf16_fused": ([gru(7, 40), recur.Dense(u(5, 40), u(5), "tanh")], "bf16"),
        "gru_bf16": ([gru(4, 20, reset_before_matmul=True), rnn(20, 8)], "bf16"),
        "token_lm_int8": ([recur.Embedding(u(30, 8)), lstm(8, 16, peephole_matrix=u(48, 16)), recur.Dense(u(30, 16), u(30)),
                           recur.Softmax(30)], "int8"),
    }
    for name, (layers, weights) in reduced.items():
        recur.save(out / f"{name}.recur", layers, metadata={"source": "make_variant_models.py", "name": name},
                   weights=weights)


def attention_models(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    u = lambda *shape: rng.uniform(-0.4, 0.4, size=shape)
    lstm, gru, rnn = makers(u)

    def additive(q, m, units, bias=True):
        return recur.Attention("additive", q, m, weight_query=u(units, q), weight_memory=u(units, m),
                               bias=u(units) if bias else None, v=u(units))

    models = {
        "attention_general": [lstm(4, 16), recur.Attention("general", 16, 12, weight=u(16, 12)),
                              recur.Dense(u(5, 28), u(5), "tanh")],
        "token_attention_additive": [recur.Embedding(u(20, 6)), lstm(6, 40), additive(40, 12, 24),
                                     recur.Dense(u(16, 52), u(16), "tanh"), recur.Dense(u(20, 16), u(20))],
        # Two attention layers (two regions of the memory block), a scale.
        "attention_two": [gru(3, 16), recur.Attention("dot", 16, 16, scale=0.25), recur.Dense(u(16, 32), u(16), "tanh"),
                          additive(16, 9, 5, bias=False), recur.Dense(u(4, 25), u(4))],
        "seq_attention": [lstm(3, 8, direction="bidirectional", backward=lstm(3, 8)),
                          recur.Attention("general", 16, 7, weight=u(16, 7))],
    }
    for name, layers in models.items():
        recur.save(out / f"{name}.recur", layers, metadata={"source": "make_variant_models.py", "name": name})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    if len(sys.argv) > 2:
        attention_models(Path(sys.argv[2]))
