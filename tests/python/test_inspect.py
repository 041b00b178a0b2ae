"""Model.layers, Model.metadata, Model.producer (recur_model_layer_info and
friends) against the file itself, decoded by Python's protobuf library: for
every committed model and every variant of tests/c/make_variant_models.py."""
import glob
from pathlib import Path

import numpy as np
import pytest

import recur
from recur import recur_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(glob.glob(str(ROOT / "examples/*/*.recur")) + glob.glob(str(ROOT / "tests/fixtures/*.recur")))


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    import sys
    sys.path.insert(0, str(ROOT / "tests" / "c"))
    from make_variant_models import main
    out = tmp_path_factory.mktemp("variants")
    main(out)
    return sorted(str(p) for p in out.glob("*.recur") if p.stem not in ("big_stream", "deep"))


def expected(layer):
    """(kind, direction, parameters, options) from a recur.Layer message."""
    kind = layer.WhichOneof("kind")
    count = lambda t: int(np.prod(t.shape)) if t.shape else 0
    if kind in ("lstm", "gru", "rnn"):
        cells = [getattr(layer, kind)] + ([getattr(layer, kind + "_backward")] if layer.direction == 2 else [])
        params, options = 0, set()
        for c in cells:
            for field, _ in c.ListFields():
                value = getattr(c, field.name)
                if isinstance(value, pb.Tensor):
                    params += count(value)
            names = {f.name for f, _ in c.ListFields()}
            options |= {"bias"} & ({"bias"} if names & {"bias_ih", "bias_hh"} else set())
            options |= {"initial_state"} if names & {"initial_h", "initial_c"} else set()
            options |= {o for o, fields in {"peephole": {"peephole"}, "clip": {"clip"}, "cell_clip": {"cell_clip"},
                                            "proj_clip": {"proj_clip"}, "layer_norm": {"layer_norm"},
                                            "projection": {"weight_proj"}, "coupled": {"coupling"},
                                            "reset_before": {"reset_before_matmul"},
                                            "peephole_matrix": {"peephole_matrix"},
                                            "output_peephole_previous": {"output_peephole_previous"}}.items()
                        if names & fields}
        return kind, ("forward", "reverse", "bidirectional")[layer.direction], params, options
    if kind == "dense":
        d = layer.dense
        return kind, None, count(d.weight) + count(d.bias), {"bias"} if d.HasField("bias") else set()
    if kind == "embedding":
        return kind, None, count(layer.embedding.weight), set()
    if kind == "attention":
        a = layer.attention
        params = sum(count(getattr(a, f)) for f in ("weight", "weight_query", "weight_memory", "bias", "v"))
        return kind, None, params, {"bias"} if a.HasField("bias") else set()
    return kind, None, 0, set()


DEFAULTS = {"lstm": (1, 2, 2), "gru": (1, 2), "rnn": (2,)}  # sigmoid, tanh, tanh / sigmoid, tanh / tanh
NAMES = ("identity", "sigmoid", "tanh", "relu", "affine", "leaky_relu", "thresholded_relu", "scaled_tanh",
         "hard_sigmoid", "elu", "softsign", "softplus")


def functions(layer):
    """The function kinds the file gives a layer, defaults filled in."""
    kind = layer.WhichOneof("kind")
    if kind == "dense":
        return (NAMES[layer.dense.activation],)
    if kind not in DEFAULTS:
        return ()
    cell = getattr(layer, kind)
    return tuple(NAMES[getattr(cell, f).kind] if cell.HasField(f) else NAMES[d]
                 for f, d in zip(("f", "g", "h"), DEFAULTS[kind]))


def check(path):
    message = recur.load_message(Path(path).read_bytes())
    model = recur.Model(path)
    assert model.producer == message.producer
    assert model.metadata == {m.key: m.value for m in message.metadata}
    assert len(model.layers) == len(message.layers)
    for got, layer in zip(model.layers, message.layers):
        kind, direction, params, options = expected(layer)
        assert (got.kind, got.direction, got.name, got.parameters, got.options) == \
               (kind, direction, layer.name, params, frozenset(options)), (path, got)
        assert tuple(f.split("(")[0] for f in got.functions) == functions(layer), (path, got.functions)
    assert model.layers[-1].output_size == model.output_size and model.layers[0].input_size in (model.input_size, 1)
    assert "parameters" in repr(model) and model.layers[0].kind in repr(model)


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_committed_models(path):
    check(path)


def test_every_variant(variants):
    for path in variants:
        check(path)


def test_names_and_metadata_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "named.recur"
    layers = [recur.GRU(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), None, None, name="encoder \u00e9"),
              recur.Dense(rng.normal(size=(1, 2)), None, name="head")]
    recur.save(p, layers, producer="test_inspect.py", metadata={"framework": "none", "\u00fcnicode": "\u2713"})
    m = recur.Model(p)
    assert [l.name for l in m.layers] == ["encoder \u00e9", "head"]
    assert m.layers[0].options == frozenset() and m.layers[0].parameters == 6 * 3 + 6 * 2
    assert m.producer == "test_inspect.py" and m.metadata == {"framework": "none", "\u00fcnicode": "\u2713"}
    assert repr(m) == "<recur.Model gru 'encoder \u00e9'(3\u21922) \u2192 dense 'head'(2\u21921), 32 parameters>"
