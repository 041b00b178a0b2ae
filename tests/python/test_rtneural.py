"""RTNeural JSON models (recur/rtneural_import.py): converted and run by
Recur against the outputs Keras computed for RTNeural's own tests
(tests/fixtures/rtneural, from RTNeural's repository), against Keras 3 for
the cases those files lack (GRU reset_after=False, activation layers,
softmax), and every refusal."""
import json
import os

import numpy as np
import pytest

import recur
from conftest import ROOT
from recur import rtneural_import
from recur.cli import main as cli_main

FIXTURES = ROOT / "tests" / "fixtures" / "rtneural"


def run(layers, xs, tmp_path):
    path = tmp_path / "m.recur"
    recur.save(path, layers)
    model = recur.Model(path)
    stream = model.stream()
    return np.array([stream.step(x.astype(np.float32)) for x in xs])


@pytest.mark.parametrize("name", ["dense", "gru", "gru_1d", "lstm", "lstm_1d"])
def test_keras_outputs_of_rtneural_tests(name, tmp_path):
    layers, notes = rtneural_import.convert(FIXTURES / f"{name}.json")
    assert notes == []
    inputs = layers[0].input_size
    xs = np.loadtxt(FIXTURES / f"{name}_x_python.csv", delimiter=",").reshape(-1, inputs)
    want = np.loadtxt(FIXTURES / f"{name}_y_python.csv", delimiter=",").reshape(len(xs), -1)
    got = run(layers, xs, tmp_path)
    assert np.max(np.abs(got - want)) < 1e-5
    # The float64 reading of the file agrees with Keras as well.
    assert np.max(np.abs(rtneural_import.reference(FIXTURES / f"{name}.json", xs) - want)) < 1e-5


def test_cli_converts_and_verifies(tmp_path, capsys):
    out = tmp_path / "gru.recur"
    assert cli_main(["convert", str(FIXTURES / "gru.json"), str(out)]) == 0
    text = capsys.readouterr().out
    assert "verified: within" in text and "float64" in text
    assert recur.Model(out).layers[1].kind == "gru"


@pytest.mark.parametrize("name, message", [
    ("full_model", r"layer 1 \(conv1d\): Recur has no conv1d layer"),
    ("bad_lstm", r"layer 0 \(lstm\): the kernel has shape \(1, 80\), expected \(1, 64\)"),
])
def test_refused_files(name, message):
    with pytest.raises(rtneural_import.ConversionError, match=message):
        rtneural_import.convert(FIXTURES / f"{name}.json")


def small(layers, in_shape=(None, None, 2)):
    return {"in_shape": list(in_shape), "layers": layers}


def dense(i, o, activation="", bias=True, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((i, o)).tolist()] + ([rng.standard_normal(o).tolist()] if bias else [])
    return {"type": "dense", "activation": activation, "shape": [None, None, o], "weights": weights}


@pytest.mark.parametrize("layer, message", [
    ({"type": "prelu", "shape": [None, None, 2], "weights": [[0.1, 0.1]]}, "Recur has no prelu layer"),
    ({"type": "batchnorm", "shape": [None, None, 2], "weights": []}, "Recur has no batchnorm layer"),
    ({"type": "conv2d", "shape": [None, None, 2], "weights": []}, "Recur has no conv2d layer"),
    ({"type": "attention", "shape": [None, None, 2], "weights": []}, "unknown layer type 'attention'"),
    ({"type": "activation", "activation": "gelu", "shape": [None, None, 2]}, "activation 'gelu' is not one"),
    ({"type": "lstm", "activation": "relu", "shape": [None, None, 2], "weights": [[], [], []]},
     "RTNeural runs every LSTM with tanh"),
    ({"type": "gru", "activation": "tanh", "shape": [None, None, 3], "weights": [[[0] * 9] * 2, [[0] * 9] * 3]},
     r"expected \[kernel, recurrent_kernel, bias\]"),
    ({"type": "dense", "shape": [None, None, 3], "weights": [[[0, 0]] * 2]}, r"kernel has shape \(2, 2\), expected \(2, 3\)"),
])
def test_refused_layers(layer, message):
    with pytest.raises(rtneural_import.ConversionError, match=message):
        rtneural_import.convert(small([layer]))


def test_refused_shapes_and_state_dicts():
    with pytest.raises(rtneural_import.ConversionError, match="in_shape"):
        rtneural_import.convert({"in_shape": [None, None], "layers": [dense(2, 2)]})
    with pytest.raises(rtneural_import.ConversionError, match="non-empty list"):
        rtneural_import.convert({"in_shape": [None, 2], "layers": []})
    state_dict = {"gru.weight_ih_l0": [[0.0]], "gru.weight_hh_l0": [[0.0]], "dense.weight": [[0.0]]}
    with pytest.raises(rtneural_import.ConversionError, match="RTNeural PyTorch file: a bare state_dict"):
        rtneural_import.convert(state_dict)


def test_cli_refusal_is_one_line(tmp_path, capsys):
    assert cli_main(["convert", str(FIXTURES / "full_model.json"), str(tmp_path / "x.recur")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "conv1d" in err[0]
    assert not (tmp_path / "x.recur").exists()


# Keras 3 itself, for what RTNeural's files do not show. RTNeural's exporter
# writes layer.get_weights() with the layer's type, activation and output
# shape; this writes the same from a Keras model.

def keras_model():
    os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first import of keras
    import keras
    return keras


def export(model, inputs):
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        weights = [w.tolist() for w in layer.get_weights()]
        units = layer.output.shape[-1]
        if kind == "TimeDistributed":
            kind, config = "time-distributed-dense", layer.layer.get_config()
        names = {"Dense": "dense", "GRU": "gru", "LSTM": "lstm", "Activation": "activation"}
        layers.append({"type": names.get(kind, kind), "activation": config.get("activation", ""),
                       "shape": [None, None, units], "weights": weights})
    return {"in_shape": [None, None, inputs], "layers": layers}


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_both_reset_modes(reset_after, tmp_path):
    keras = keras_model()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((None, 3)),
        keras.layers.GRU(6, reset_after=reset_after, return_sequences=True,
                         bias_initializer=keras.initializers.RandomNormal(stddev=0.5)),
        keras.layers.Dense(4),
        keras.layers.Activation("elu"),
        keras.layers.LSTM(5, return_sequences=True, bias_initializer=keras.initializers.RandomNormal(stddev=0.5)),
        keras.layers.Dense(3, activation="softmax"),
    ])
    xs = np.random.default_rng(2).standard_normal((1, 40, 3)).astype(np.float32) * 2
    want = model.predict(xs, verbose=0).reshape(40, 3)
    layers, notes = rtneural_import.convert(export(model, 3))
    assert any("reset_after=False" in n for n in notes) == (not reset_after)
    got = run(layers, xs[0], tmp_path)
    assert np.max(np.abs(got - want)) < 1e-5


def test_keras_activation_after_a_recurrent_layer(tmp_path):
    keras = keras_model()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(4, return_sequences=True),
                              keras.layers.Activation("relu"), keras.layers.Dense(1, activation="sigmoid")])
    xs = np.random.default_rng(4).standard_normal((1, 30, 2)).astype(np.float32)
    want = model.predict(xs, verbose=0).reshape(30, 1)
    layers, notes = rtneural_import.convert(export(model, 2))
    assert any("identity dense layer" in n for n in notes)
    assert np.max(np.abs(run(layers, xs[0], tmp_path) - want)) < 1e-5


def test_json_file_roundtrip(tmp_path):
    """A file written to disk goes through the CLI like RTNeural's own."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps(small([dense(2, 3, "tanh"), {"type": "activation", "activation": "softmax",
                                                               "shape": [None, None, 3]}])))
    assert cli_main(["convert", str(path), str(tmp_path / "m.recur")]) == 0
    kinds = [layer.kind for layer in recur.Model(tmp_path / "m.recur").layers]
    assert kinds == ["dense", "softmax"]


def test_rtneural_pytorch_file_through_from_torch(tmp_path, capsys):
    """RTNeural's PyTorch files are state_dicts: recur convert refuses one and
    says to load it into its module and call from_torch, which matches the
    PyTorch outputs in RTNeural's repository."""
    import torch

    assert cli_main(["convert", str(FIXTURES / "gru_torch.json"), str(tmp_path / "x.recur")]) == 1
    assert "recur.from_torch(module, example_input)" in capsys.readouterr().err

    class Model(torch.nn.Module):  # the architecture of RTNeural's python/gru_torch.py
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(1, 8)
            self.gru2 = torch.nn.GRU(8, 8, num_layers=3)
            self.dense = torch.nn.Linear(8, 1)

        def forward(self, x):
            x, _ = self.gru(x)
            x, _ = self.gru2(x)
            return self.dense(x)

    module = Model()
    state = json.loads((FIXTURES / "gru_torch.json").read_text())
    module.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    xs = np.loadtxt(FIXTURES / "gru_torch_x_python.csv", delimiter=",").astype(np.float32).reshape(-1, 1)
    layers, report = recur.from_torch(module, torch.from_numpy(xs))
    assert report.max_error < 1e-5
    want = np.loadtxt(FIXTURES / "gru_torch_y_python.csv", delimiter=",").reshape(-1, 1)
    assert np.max(np.abs(run(layers, xs, tmp_path) - want)) < 1e-5


@pytest.mark.parametrize("model, message", [
    ([1, 2], "not a JSON object"),
    (small([{"type": "dense", "shape": [None, None, 2], "weights": [[["a", "b"]] * 2]}]), "not a numeric array"),
    (small([{"type": "dense", "shape": [None, None, 0], "weights": []}]), "\"shape\" must end in the layer's width"),
    (small([{"type": "activation", "activation": 3, "shape": [None, None, 2]}]), "\"activation\" must be a string"),
    (small(["dense"]), "not an object with a \"type\""),
    (small([{"type": "dense", "shape": [None, None, 2], "weights": "none"}]), "\"weights\" must be a list"),
    (small([{"type": "dense", "shape": [None, None, 2], "weights": [[[0, 0]] * 2] * 3}]),
     r"expected \[kernel\] or \[kernel, bias\], got 3"),
    (small([{"type": "activation", "activation": "linear", "shape": [None, None, 2]}]), "no layer Recur runs"),
])
def test_more_refused_files(model, message):
    with pytest.raises(rtneural_import.ConversionError, match=message):
        rtneural_import.convert(model)


def test_not_json(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{ this is not json")
    with pytest.raises(rtneural_import.ConversionError, match="not JSON"):
        rtneural_import.convert(path)


def test_saturating_1000_steps(tmp_path):
    """A GRU and an LSTM with large input weights, as RTNeural's exporter
    writes them, against Keras over 1000 steps with saturating inputs."""
    keras = keras_model()
    keras.utils.set_random_seed(21)
    k = keras.initializers.RandomNormal(stddev=2.0, seed=4)
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.GRU(10, return_sequences=True, kernel_initializer=k,
                                                                       bias_initializer=k),
                              keras.layers.LSTM(8, return_sequences=True, kernel_initializer=k),
                              keras.layers.Dense(1)])
    xs = (np.random.default_rng(22).standard_normal((1, 1000, 2)) * 4).astype(np.float32)
    want = model.predict(xs, verbose=0).reshape(1000, 1)
    layers, _ = rtneural_import.convert(export(model, 2))
    assert np.max(np.abs(run(layers, xs[0], tmp_path) - want)) < 1e-5
