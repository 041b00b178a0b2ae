"""ONNX files as users make them: torch.onnx.export of nn.LSTM, nn.GRU and
nn.RNN over every variant (layers, directions, batch_first, fixed or dynamic
time, both exporters, bare or wrapped to return only the output, with or
without state inputs). Each either converts, verifies itself against
onnxruntime and matches PyTorch within 1e-5, or is refused with a named
reason and workaround. Weights are scaled by 3 so that the gates saturate."""
import contextlib
import io
import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import recur  # noqa: E402
from recur import onnx_import  # noqa: E402

TOL = 1e-5
I, H = 3, 5
FIXED_STEPS = 7
LONG = 1000
PYTHON_PATH = str(__import__("pathlib").Path(recur.__file__).resolve().parent.parent)


class OutputOnly(torch.nn.Module):
    """The usual wrapper: returns only the per-step output."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, state=None):
        return (self.rnn(x) if state is None else self.rnn(x, state))[0]


def make(cls, layers, bidirectional, batch_first, seed=0):
    torch.manual_seed(seed)
    rnn = cls(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    with torch.no_grad():
        for p in rnn.parameters():
            p.mul_(3)
    return rnn.eval()


def export(module, args, path, dynamo, dynamic, batch_first, names):
    kw = dict(input_names=names, opset_version=18 if dynamo else 17)
    if dynamic:
        time_axis = 1 if batch_first else 0
        if dynamo:
            kw["dynamic_shapes"] = ({time_axis: torch.export.Dim("T", min=2)},) + tuple(None for _ in args[1:])
        else:
            kw["dynamic_axes"] = {names[0]: {time_axis: "T"}}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=dynamo, **kw)


def sequence(steps, batch_first, seed=1):
    x = torch.tensor(np.random.default_rng(seed).normal(size=(steps, I)) * 3, dtype=torch.float32)
    return x[None] if batch_first else x[:, None]


VARIANTS = list(itertools.product(["LSTM", "GRU", "RNN"], [1, 2], [False, True], [False, True], [False, True],
                                  [False, True], [False, True]))


def variant_id(v):
    cls, layers, bi, bf, dyn, dynamo, wrap = v
    return "-".join([cls, f"L{layers}", "bi" if bi else "uni", "bf" if bf else "tf", "dyn" if dyn else "fix",
                     "dynamo" if dynamo else "ts", "wrap" if wrap else "bare"])


@pytest.mark.parametrize("variant", VARIANTS, ids=[variant_id(v) for v in VARIANTS])
def test_export_variant(tmp_path, variant):
    cls, layers, bi, bf, dynamic, dynamo, wrap = variant
    rnn = make(getattr(torch.nn, cls), layers, bi, bf)
    module = OutputOnly(rnn) if wrap else rnn
    path = tmp_path / "m.onnx"
    export(module, (sequence(FIXED_STEPS, bf),), path, dynamo, dynamic, bf, ["x"])
    converters = []
    if cls == "RNN" and dynamo:
        # This exporter has no RNN node for nn.RNN: it unrolls the steps.
        with pytest.raises(onnx_import.ConversionError, match="unrolls the recurrence.*dynamo=False"):
            onnx_import.convert(str(path), converter_out=converters)
        return
    layers_, notes = onnx_import.convert(str(path), converter_out=converters)
    steps = LONG if dynamic else FIXED_STEPS
    try:
        err, detail = onnx_import.verify(str(path), converters[0], layers_, steps=steps)
    except onnx_import.ConversionError as exc:
        # torch's dynamo exporter bakes the example's length into a Reshape
        # for some wrapped modules: the graph itself then fails in
        # onnxruntime at any other length. Verify at the example's length.
        assert dynamic and dynamo and "cannot run the graph" in str(exc), exc
        with pytest.raises(Exception, match="Reshape"):
            feeds = {"x": sequence(LONG, bf).numpy()}
            ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
        err, detail = onnx_import.verify(str(path), converters[0], layers_, steps=FIXED_STEPS)
    assert err is not None and err <= 1e-4, detail
    # Against PyTorch over 1000 steps, whatever length the graph was fixed to.
    x = sequence(LONG, bf, seed=2)
    with torch.no_grad():
        want = rnn(x)[0].numpy().reshape(LONG, -1)
    got = recur.Model(recur.dumps(layers_)).stream().run(x.numpy().reshape(LONG, I))
    assert np.abs(got - want).max() <= TOL


STATE_VARIANTS = list(itertools.product(["LSTM", "GRU", "RNN"], [1, 2], [False, True]))


@pytest.mark.parametrize("variant", STATE_VARIANTS, ids=["-".join(map(str, v)) for v in STATE_VARIANTS])
def test_streaming_export_with_state_inputs(tmp_path, variant):
    """torch.onnx.export(m, (x, h0[, c0])): the state inputs become each
    layer's state, set per stream."""
    cls, layers, bi = variant
    rnn = make(getattr(torch.nn, cls), layers, bi, False, seed=3)
    D = 2 if bi else 1
    rng = np.random.default_rng(4)
    h0 = torch.tensor(rng.uniform(-1, 1, (layers * D, 1, H)), dtype=torch.float32)
    c0 = torch.tensor(rng.uniform(-1, 1, (layers * D, 1, H)), dtype=torch.float32)
    args = (sequence(FIXED_STEPS, False), (h0, c0) if cls == "LSTM" else h0)
    names = ["x", "h0", "c0"] if cls == "LSTM" else ["x", "h0"]
    path = tmp_path / "s.onnx"
    export(OutputOnly(rnn), args, path, False, True, False, names)
    converters = []
    layers_, notes = onnx_import.convert(str(path), converter_out=converters)
    assert any("recur_stream_set_state" in n for n in notes)
    err, detail = onnx_import.verify(str(path), converters[0], layers_, steps=LONG)
    assert err <= 1e-4, detail
    # Against PyTorch: each layer's rows of h0 / c0 set on the stream.
    x = sequence(LONG, False, seed=5)
    with torch.no_grad():
        want = rnn(x, (h0, c0) if cls == "LSTM" else h0)[0].numpy().reshape(LONG, -1)
    stream = recur.Model(recur.dumps(layers_)).stream()
    for layer in range(layers):
        rows = slice(layer * D, (layer + 1) * D)
        stream.set_state(layer, h0[rows, 0].numpy().reshape(-1), c0[rows, 0].numpy().reshape(-1) if cls == "LSTM" else None)
    got = stream.run(x.numpy().reshape(LONG, I))
    assert np.abs(got - want).max() <= TOL


def convert_cli(*args):
    import os
    env = dict(os.environ, PYTHONPATH=PYTHON_PATH)
    return subprocess.run([sys.executable, "-m", "recur", "convert", *map(str, args)], capture_output=True,
                          text=True, env=env)


def test_the_command_verifies_and_prints_the_layers(tmp_path):
    path = tmp_path / "m.onnx"
    export(make(torch.nn.LSTM, 2, False, True), (sequence(FIXED_STEPS, True),), path, False, True, True, ["x"])
    done = convert_cli(path, tmp_path / "m.recur")
    assert done.returncode == 0, done.stderr
    assert "verified over 300 steps against onnxruntime" in done.stdout
    assert "max abs difference" in done.stdout and "lstm" in done.stdout
    skipped = convert_cli(path, tmp_path / "n.recur", "--no-verify")
    assert skipped.returncode == 0 and "not verified (--no-verify)" in skipped.stdout


def test_a_difference_above_the_tolerance_fails(tmp_path):
    path = tmp_path / "m.onnx"
    export(make(torch.nn.GRU, 1, True, False), (sequence(FIXED_STEPS, False),), path, False, True, False, ["x"])
    converters = []
    layers_, _ = onnx_import.convert(str(path), converter_out=converters)
    layers_[0].weight_hh = layers_[0].weight_hh * 1.001  # a converter bug, simulated
    with pytest.raises(onnx_import.ConversionError, match="above the tolerance"):
        onnx_import.verify(str(path), converters[0], layers_)
    done = convert_cli(path, tmp_path / "m.recur", "--tolerance", "1e-15")
    assert done.returncode == 1 and "above the tolerance 1e-15" in done.stderr
    assert not (tmp_path / "m.recur").exists()


def test_a_softmax_over_time_is_refused(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    W = numpy_helper.from_array(rng.uniform(-1, 1, (1, 3 * H, I)).astype(np.float32), "W")
    R = numpy_helper.from_array(rng.uniform(-1, 1, (1, 3 * H, H)).astype(np.float32), "R")
    nodes = [helper.make_node("GRU", ["X", "W", "R"], ["Y"], hidden_size=H),
             helper.make_node("Softmax", ["Y"], ["P"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, I])],
                              [helper.make_tensor_value_info("P", TensorProto.FLOAT, None)], [W, R])
    path = tmp_path / "t.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    with pytest.raises(onnx_import.ConversionError, match="softmax over axis 1 \\(opset 14\\)"):
        onnx_import.convert(str(path))


def test_a_state_input_used_otherwise_is_refused(tmp_path):
    class AddsState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = make(torch.nn.GRU, 1, False, False)

        def forward(self, x, h0):
            return self.rnn(x, h0)[0] + h0

    path = tmp_path / "a.onnx"
    export(AddsState(), (sequence(FIXED_STEPS, False), torch.zeros(1, 1, H)), path, False, False, False, ["x", "h0"])
    with pytest.raises(onnx_import.ConversionError, match="graph input 'h0'"):
        onnx_import.convert(str(path))


def test_a_head_on_the_final_state_is_refused_with_the_workaround(tmp_path):
    class LastStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = make(torch.nn.LSTM, 2, False, False)
            self.head = torch.nn.Linear(H, 2)

        def forward(self, x):
            _, (h, _) = self.rnn(x)
            return self.head(h[-1])

    path = tmp_path / "last.onnx"
    export(LastStep(), (sequence(FIXED_STEPS, False),), path, False, False, False, ["x"])
    with pytest.raises(onnx_import.ConversionError, match="final state.*export the head on the whole output"):
        onnx_import.convert(str(path))
