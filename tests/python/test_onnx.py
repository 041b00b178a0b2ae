"""ONNX recurrent operators, built with onnx.helper at several sizes with
random weights, run by onnxruntime and by recur after `python -m recur
convert`: max abs difference <= 1e-5 over 200 steps. Plus models exported by
torch.onnx.export, and the converter's refusals."""
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import recur  # noqa: E402

STEPS = 200
TOL = 1e-5
PYTHON_PATH = str(__import__("pathlib").Path(recur.__file__).resolve().parent.parent)


def convert_cli(*args):
    """Runs `python -m recur convert ...` as a user would."""
    import os
    env = dict(os.environ, PYTHONPATH=PYTHON_PATH)
    return subprocess.run([sys.executable, "-m", "recur", "convert", *map(str, args)], capture_output=True,
                          text=True, env=env)


def build(op, I, H, direction="forward", peephole=False, bias=True, initial=False, seq_lens=False, layout=0,
          seed=0, **attrs):
    rng = np.random.default_rng(seed)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    D = 2 if direction == "bidirectional" else 1
    k = 1 / np.sqrt(H)
    inits = [numpy_helper.from_array(rng.uniform(-k, k, (D, gates * H, I)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.uniform(-k, k, (D, gates * H, H)).astype(np.float32), "R")]
    inputs = ["X", "W", "R"]
    if bias:
        inits.append(numpy_helper.from_array(rng.uniform(-k, k, (D, 2 * gates * H)).astype(np.float32), "B"))
    inputs.append("B" if bias else "")
    if seq_lens:
        inits.append(numpy_helper.from_array(np.array([STEPS], dtype=np.int32), "L"))
    inputs.append("L" if seq_lens else "")
    if initial:
        inits.append(numpy_helper.from_array(rng.uniform(-1, 1, (D, 1, H)).astype(np.float32), "H0"))
    inputs.append("H0" if initial else "")
    if op == "LSTM":
        if initial:
            inits.append(numpy_helper.from_array(rng.uniform(-1, 1, (D, 1, H)).astype(np.float32), "C0"))
        inputs.append("C0" if initial else "")
        if peephole:
            inits.append(numpy_helper.from_array(rng.uniform(-0.5, 0.5, (D, 3 * H)).astype(np.float32), "P"))
        inputs.append("P" if peephole else "")
    while inputs and inputs[-1] == "":
        inputs.pop()
    if layout:
        attrs["layout"] = 1
    node = helper.make_node(op, inputs, ["Y"], name=f"{op.lower()}0", hidden_size=H, direction=direction, **attrs)
    x_shape = [1, STEPS, I] if layout else [STEPS, 1, I]
    y_shape = [1, STEPS, D, H] if layout else [STEPS, D, 1, H]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def compare(model, tmp_path, I, seed=1, reference=None):
    """Converts `model` and runs it against onnxruntime running `reference`
    (default: the same model; onnxruntime has no layout=1 kernels, so a
    layout=1 model is checked against its layout=0 twin)."""
    path, out, ref_path = tmp_path / "m.onnx", tmp_path / "m.recur", tmp_path / "ref.onnx"
    onnx.save(model, path)
    onnx.save(reference or model, ref_path)
    x = np.random.default_rng(seed).normal(size=(STEPS, I)).astype(np.float32) * 1.5
    (y,) = ort.InferenceSession(str(ref_path), providers=["CPUExecutionProvider"]).run(None, {"X": x[:, None]})
    expected = y[:, :, 0].reshape(STEPS, -1)  # [T, D*H]: forward then backward
    # (A layout=1 graph cannot verify itself: onnxruntime does not run it.)
    done = convert_cli(path, out, *(["--no-verify"] if reference is not None else []))
    assert done.returncode == 0, done.stderr
    assert ("not verified" if reference is not None else f"verified over {STEPS} steps") in done.stdout
    got = recur.Model(out).stream().run(x)
    err = np.abs(got - expected).max()
    assert err <= TOL, f"max |recur - onnxruntime| = {err}"


SIZES = [(1, 5), (3, 17), (8, 32)]
DIRECTIONS = ["forward", "reverse", "bidirectional"]


@pytest.mark.parametrize("I,H", SIZES)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("variant", ["plain", "peephole", "input_forget", "clip", "activations", "activations2",
                                     "initial", "no_bias", "layout1", "seq_lens"])
def test_lstm(tmp_path, I, H, direction, variant):
    options = {
        "plain": {}, "peephole": {"peephole": True}, "input_forget": {"input_forget": 1}, "clip": {"clip": 0.5},
        "activations": {"activations": ["HardSigmoid", "LeakyRelu", "Softsign"] * 2,
                        "activation_alpha": [0.3, 0.05, 0.3, 0.05], "activation_beta": [0.45, 0.45]},
        "activations2": {"activations": ["Sigmoid", "ScaledTanh", "Elu"] * 2,
                         "activation_alpha": [0.8, 0.9, 0.8, 0.9], "activation_beta": [1.2, 1.2]},
        "initial": {"initial": True}, "no_bias": {"bias": False}, "layout1": {"layout": 1},
        "seq_lens": {"seq_lens": True},
    }[variant]
    if direction != "bidirectional" and "activations" in options:
        options = dict(options, activations=options["activations"][:3],
                       activation_alpha=options["activation_alpha"][:2], activation_beta=options["activation_beta"][:1])
    model = build("LSTM", I, H, direction, seed=I + H, **options)
    twin = build("LSTM", I, H, direction, seed=I + H, **dict(options, layout=0)) if options.get("layout") else None
    compare(model, tmp_path, I, reference=twin)


@pytest.mark.parametrize("I,H", SIZES)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("variant", ["plain", "clip", "activations", "initial", "no_bias"])
def test_gru(tmp_path, I, H, direction, lbr, variant):
    options = {"plain": {}, "clip": {"clip": 0.4}, "initial": {"initial": True}, "no_bias": {"bias": False},
               "activations": {"activations": ["HardSigmoid", "Softsign"] * 2, "activation_alpha": [0.25, 0.25],
                               "activation_beta": [0.5, 0.5]}}[variant]
    if direction != "bidirectional" and "activations" in options:
        options = dict(options, activations=options["activations"][:2], activation_alpha=[0.25], activation_beta=[0.5])
    model = build("GRU", I, H, direction, linear_before_reset=lbr, seed=I * H, **options)
    compare(model, tmp_path, I)


@pytest.mark.parametrize("I,H", SIZES)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("activation", ["Tanh", "Relu", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
                                        "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"])
def test_rnn(tmp_path, I, H, direction, activation):
    D = 2 if direction == "bidirectional" else 1
    attrs = {"activations": [activation] * D}
    if activation in ("Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu"):
        attrs["activation_alpha"] = [0.4] * D
    if activation in ("Affine", "ScaledTanh", "HardSigmoid"):
        attrs["activation_beta"] = [0.6] * D
    model = build("RNN", I, H, direction, clip=5.0 if activation in ("Relu", "Affine", "Softplus") else 0.0, seed=H,
                  **attrs) if activation in ("Relu", "Affine", "Softplus") else build("RNN", I, H, direction, seed=H, **attrs)
    compare(model, tmp_path, I)


def test_defaults_come_from_onnx(tmp_path):
    """activation_alpha/beta omitted: the converter uses ONNX's defaults."""
    model = build("RNN", 2, 6, activations=["LeakyRelu"])
    compare(model, tmp_path, 2)


# ---- models exported by torch.onnx.export ----------------------------------------

def torch_export_check(tmp_path, module, I, out_features, head=None):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = module, head

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.head(y) if self.head is not None else y

    net = Net().eval()
    x = torch.randn(STEPS, 1, I)
    path, out = tmp_path / "t.onnx", tmp_path / "t.recur"
    torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False)
    done = convert_cli(path, out)
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        expected = net(x).numpy().reshape(STEPS, out_features)
    got = recur.Model(out).stream().run(x.numpy().reshape(STEPS, I))
    assert np.abs(got - expected).max() <= TOL


def test_torch_lstm_two_layers_bidirectional(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch_export_check(tmp_path, torch.nn.LSTM(5, 12, num_layers=2, bidirectional=True), 5, 24)


def test_torch_gru_with_dense_head(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    head = torch.nn.Sequential(torch.nn.Linear(20, 3), torch.nn.Tanh())
    torch_export_check(tmp_path, torch.nn.GRU(4, 20, num_layers=2), 4, 3, head)


def test_torch_rnn_relu(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    torch_export_check(tmp_path, torch.nn.RNN(3, 9, nonlinearity="relu"), 3, 9)


# ---- refusals ------------------------------------------------------------------

def test_unsupported_op_is_refused_with_the_node_name(tmp_path):
    model = build("GRU", 2, 4)
    node = helper.make_node("Cos", ["Y"], ["Z"], name="mystery")
    model.graph.node.append(node)
    model.graph.output[0].name = "Z"
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    done = convert_cli(path, tmp_path / "x.recur")
    assert done.returncode == 1
    assert "mystery" in done.stderr and "Cos" in done.stderr


def test_unknown_attribute_is_refused(tmp_path):
    model = build("LSTM", 2, 4)
    model.graph.node[0].attribute.append(helper.make_attribute("future_option", 1))
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    with pytest.raises(recur.onnx_import.ConversionError, match="future_option"):
        recur.onnx_import.convert(str(path))


# ---- ONNX's own backend test cases for LSTM, GRU and RNN ------------------------

def backend_cases():
    try:
        from onnx.backend.test.case.node import collect_testcases
    except ImportError:
        return []
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    return [c for c in cases if c.model.graph.node and c.model.graph.node[0].op_type in ("LSTM", "GRU", "RNN")]


BACKEND = backend_cases()


def test_backend_cases_found():
    assert len(BACKEND) >= 18


@pytest.mark.parametrize("case", BACKEND, ids=[c.name for c in BACKEND])
def test_onnx_backend_case(tmp_path, case):
    """ONNX's test cases (written by the ONNX project, expected outputs from
    its reference implementation): the weights are graph inputs, bound at
    conversion; each batch entry runs as its own stream, with its own
    initial state set through the bindings."""
    node = case.model.graph.node[0]
    names = [i.name for i in case.model.graph.input]
    inputs, outputs = case.data_sets[0]
    feeds = dict(zip(names, inputs))
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    x = feeds[node.input[0]]
    x = np.swapaxes(x, 0, 1) if layout else x  # [T, B, I]
    T, B, _ = x.shape
    states = {}
    bind = {}
    for k, name in enumerate(node.input[1:], start=1):
        if not name:
            continue
        value = feeds[name]
        if k in (5, 6):  # initial_h, initial_c: per batch entry, set on each stream
            states[k] = np.swapaxes(value, 0, 1) if layout else value  # [D, B, H]
            value = np.zeros_like(value)
        bind[name] = value
    onnx.save(case.model, tmp_path / "m.onnx")
    layers, _ = recur.onnx_import.convert(str(tmp_path / "m.onnx"), bind=bind)
    model = recur.Model(recur.dumps(layers))
    D = 2 if layers[0].direction == "bidirectional" else 1
    for b in range(B):
        stream = model.stream()
        if states:
            h0 = states[5][:, b].reshape(-1) if 5 in states else np.zeros(model.state_size(0)[0])
            c0 = states[6][:, b].reshape(-1) if 6 in states else None
            stream.set_state(0, h0, c0)  # a reverse cell starts its runs from it
        y = stream.run(x[:, b])
        h, c = stream.get_state(0)
        for out, expected in zip(case.model.graph.output, outputs):
            e = np.asarray(expected, dtype=np.float32)
            if out.name == node.output[0]:      # Y: [T, D, B, H] (layout 1: [B, T, D, H])
                e = np.moveaxis(e, 0, 2) if layout else e
                want, got = e[:, :, b].reshape(T, -1), y
            elif out.name == node.output[1]:    # Y_h: [D, B, H] (layout 1: [B, D, H])
                want, got = (e[b] if layout else e[:, b]).reshape(-1), h
            else:                               # Y_c
                want, got = (e[b] if layout else e[:, b]).reshape(-1), c
            assert got.shape == want.shape, (out.name, got.shape, want.shape)
            assert np.abs(got - want).max() <= TOL, out.name
