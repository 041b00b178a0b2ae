"""recur.from_torch: PyTorch modules converted and run by Recur against
PyTorch's own outputs (within 1e-5): every recurrent module and option,
cells, chains traced by torch.fx, and every refusal."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import recur
from recur import torch_import
from recur.conversion import run_layers

STEPS = 80


def seq(width, batch_first=False, seed=1):
    x = torch.from_numpy((np.random.default_rng(seed).standard_normal((STEPS, width)) * 2).astype(np.float32))
    return x[None] if batch_first else x[:, None]


def check(module, example, tokens=False):
    """from_torch's own report, and an independent comparison."""
    layers, report = recur.from_torch(module, example)
    assert report.max_error is not None and report.max_error < 1e-5
    with torch.no_grad():
        want = module.eval()(example)
    want = (want[0] if isinstance(want, tuple) else want).numpy().reshape(STEPS, -1)
    xs = example.numpy().reshape(STEPS) if tokens else example.numpy().reshape(STEPS, -1)
    got = run_layers(layers, xs)
    assert np.max(np.abs(got - want)) < 1e-5
    return layers, report


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(3, 8),
    lambda: nn.LSTM(3, 8, num_layers=3, dropout=0.3),
    lambda: nn.LSTM(3, 8, proj_size=4, num_layers=2),
    lambda: nn.LSTM(3, 8, bidirectional=True, num_layers=2),
    lambda: nn.LSTM(3, 8, bias=False, batch_first=True),
    lambda: nn.GRU(3, 7, num_layers=2, bidirectional=True, batch_first=True),
    lambda: nn.GRU(3, 7, bias=False),
    lambda: nn.RNN(3, 6, nonlinearity="relu", num_layers=2),
    lambda: nn.RNN(3, 6, bidirectional=True),
], ids=["lstm", "lstm-3-layers-dropout", "lstm-proj", "lstm-bidirectional-2", "lstm-nobias-batch-first",
        "gru-bidirectional-batch-first", "gru-nobias", "rnn-relu-2", "rnn-bidirectional"])
def test_recurrent_modules(make):
    torch.manual_seed(0)
    module = make()
    layers, report = check(module, seq(3, module.batch_first))
    assert len(layers) == module.num_layers
    if module.dropout and module.num_layers > 1:
        assert any("training only" in n for n in report.notes)


@pytest.mark.parametrize("cell", [nn.LSTMCell(3, 6), nn.GRUCell(3, 6), nn.RNNCell(3, 6, nonlinearity="relu")],
                         ids=["lstm-cell", "gru-cell", "rnn-cell"])
def test_cells_step_like_their_layers(cell):
    layers, report = recur.from_torch(cell, seq(3)[:, 0])
    assert report.max_error < 1e-5 and report.steps == STEPS


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.gru = nn.GRU(24, 12, batch_first=True)
        self.head = nn.Sequential(nn.Linear(12, 8), nn.ELU(alpha=0.5), nn.Linear(8, 3), nn.Softmax(dim=-1))

    def forward(self, x):
        x = torch.tanh(self.inp(x))
        y, _ = self.lstm(x)
        y = F.leaky_relu(y, 0.2)
        y, h = self.gru(y)
        return self.head(y.relu())


class TokenModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.rnn = nn.GRU(8, 16)
        self.out = nn.Linear(16, 30)

    def forward(self, tokens):
        y = self.rnn(self.emb(tokens))[0]
        return F.softmax(self.out(y), dim=-1)


def test_traced_chain():
    torch.manual_seed(2)
    module = Forecaster()
    layers, report = check(module, seq(4, batch_first=True))
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == ["Dense", "LSTM", "LSTM", "Dense", "GRU", "Dense", "Dense", "Dense", "Softmax"]
    assert layers[0].activation == "tanh"  # folded into the Linear before it
    assert any("identity dense layer" in n for n in report.notes)  # leaky_relu after the LSTM


def test_traced_token_model():
    torch.manual_seed(3)
    tokens = torch.from_numpy(np.random.default_rng(4).integers(0, 30, (STEPS, 1)))
    check(TokenModel(), tokens, tokens=True)


def test_random_example_when_none_given():
    torch.manual_seed(5)
    layers, report = recur.from_torch(nn.GRU(2, 5, batch_first=True))
    assert report.steps == 300 and report.max_error < 1e-5


class UsesState(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x):
        _, (h, c) = self.lstm(x)
        return h


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x):
        return self.a(x) + x


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 3, 1)

    def forward(self, x):
        return self.conv(x)


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x, y):
        return self.lstm(x)[0]


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


@pytest.mark.parametrize("module, message", [
    (UsesState(), r"uses a recurrent module's final state"),
    (Residual(), r"does not take exactly the previous result"),
    (Conv(), r"Recur has no layer for Conv1d"),
    (Branches(), r"a second input but no attention module reads it"),
    (DataDependent(), r"torch.fx cannot trace DataDependent.forward"),
    (nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=0)), r"softmax over dim 0"),
    (nn.Sequential(nn.Linear(3, 3), nn.Softplus(beta=2)), r"Softplus\(beta=2"),
    (nn.Sequential(nn.Embedding(5, 3, max_norm=1.0)), r"max_norm"),
    (nn.Sequential(nn.Linear(3, 3), nn.Embedding(5, 3)), r"embedding must be the first layer"),
])
def test_refusals(module, message):
    with pytest.raises(torch_import.ConversionError, match=message):
        recur.from_torch(module, seq(3))


def test_example_input_shape_checked():
    with pytest.raises(torch_import.ConversionError, match=r"give one sequence"):
        recur.from_torch(nn.LSTM(3, 4), torch.zeros(5, 2, 3))  # a batch of 2


# ---- torch.export programs and pickled modules through `recur convert` ----------

from recur.cli import main as cli_main  # noqa: E402


@pytest.mark.parametrize("make, example", [
    (lambda: Forecaster(), lambda: seq(4, batch_first=True)),
    (lambda: nn.Sequential(nn.Linear(3, 6), nn.Hardsigmoid(), nn.Linear(6, 2)), lambda: seq(3)),
    (lambda: TokenModel(), lambda: torch.from_numpy(np.random.default_rng(4).integers(0, 30, (STEPS, 1)))),
    (lambda: nn.GRU(3, 5, num_layers=2, bidirectional=True), lambda: seq(3)),
], ids=["chain", "hardsigmoid", "tokens", "gru-bidirectional"])
def test_exported_program(make, example, tmp_path, capsys):
    torch.manual_seed(6)
    module, x = make().eval(), example()
    path = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(module, (x,)), path)
    assert cli_main(["convert", str(path), str(tmp_path / "m.recur")]) == 0, capsys.readouterr().err
    assert "verified: within" in capsys.readouterr().out
    with torch.no_grad():
        want = module(x)
    want = (want[0] if isinstance(want, tuple) else want).numpy().reshape(STEPS, -1)
    stream = recur.Model(tmp_path / "m.recur").stream()
    got = stream.run_tokens(x.numpy().reshape(-1)) if stream._vocab else stream.run(x.numpy().reshape(STEPS, -1))
    assert np.max(np.abs(got - want)) < 1e-5


def test_exported_program_refusals(tmp_path, capsys):
    path = tmp_path / "r.pt2"
    torch.export.save(torch.export.export(Residual(), (seq(3),)), path)
    assert cli_main(["convert", str(path), str(tmp_path / "r.recur")]) == 1
    assert "Recur cannot run aten.add.Tensor" in capsys.readouterr().err


def test_pickled_module_needs_trust(tmp_path, capsys):
    torch.manual_seed(7)
    path = tmp_path / "m.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), path)
    assert cli_main(["convert", str(path), str(tmp_path / "m.recur")]) == 1
    assert "--trust" in capsys.readouterr().err
    assert not (tmp_path / "m.recur").exists()
    assert cli_main(["convert", str(path), str(tmp_path / "m.recur"), "--trust"]) == 0
    assert "verified: within" in capsys.readouterr().out
    torch.save(nn.Linear(3, 4).state_dict(), tmp_path / "sd.pt")
    assert cli_main(["convert", str(tmp_path / "sd.pt"), str(tmp_path / "sd.recur"), "--trust"]) == 1
    assert "state_dict has no architecture" in capsys.readouterr().err


class ReturnsTwo(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x):
        return self.a(x), x


class ExportedState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4)

    def forward(self, x):
        _, h = self.gru(x)
        return h


class StartState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4)
        self.h0 = nn.Parameter(torch.ones(1, 1, 4))

    def forward(self, x):
        return self.gru(x, self.h0)[0]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x, y):
        return self.a(x)


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Tanh(), nn.Linear(3, 3)), r"an activation cannot be the first operation"),
    (ReturnsTwo(), r"forward does not return the chain's last result"),
    (nn.Sequential(nn.Dropout(0.1)), r"the module has no layer Recur runs"),
    (nn.Sequential(nn.Linear(3, 3), nn.SELU()), r"Recur has no layer for SELU"),
])
def test_more_refusals(module, message):
    with pytest.raises(torch_import.ConversionError, match=message):
        recur.from_torch(module, seq(3))


@pytest.mark.parametrize("module, example, message", [
    (lambda: TwoInputs(), lambda: (seq(3), seq(3)), r"takes more than one input"),
    (lambda: ReturnsTwo(), lambda: (seq(3),), r"returns more than its chain.s last result"),
    (lambda: ExportedState(), lambda: (seq(3),), r"returns a recurrent layer's final state"),
    (lambda: StartState(), lambda: (seq(3),), r"an initial state other than zeros"),
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.SELU()), lambda: (seq(3),), r"a scaled elu \(selu\)|Recur cannot run"),
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.Softplus(beta=2.0)), lambda: (seq(3),), r"softplus with beta"),
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=0)), lambda: (seq(3),), r"softmax over dim 0"),
    (lambda: nn.Sequential(nn.Dropout(0.1)), lambda: (seq(3),), r"the program has no layer Recur runs"),
], ids=["two-inputs", "two-outputs", "final-state", "start-state", "selu", "softplus-beta",
        "softmax-dim", "no-layer"])
def test_exported_refusals(module, example, message):
    program = torch.export.export(module().eval(), example())
    with pytest.raises(torch_import.ConversionError, match=message):
        torch_import.from_exported(program)


def test_verification_refuses_a_difference():
    with pytest.raises(torch_import.ConversionError, match=r"Recur and PyTorch differ by .* \(tolerance 0\)"):
        recur.from_torch(nn.LSTM(3, 5), seq(3), tolerance=0)


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(3, 12, num_layers=2), lambda: nn.GRU(3, 12, bidirectional=True),
    lambda: nn.RNN(3, 12), lambda: nn.LSTM(3, 12, proj_size=5),
], ids=["lstm-2", "gru-bidirectional", "rnn", "lstm-proj"])
def test_saturating_1000_steps(make):
    """Input weights ×12 and inputs ×4: a third of the gate values past
    sigmoid(7) = 0.999, over 1000 steps, within 1e-5 of PyTorch."""
    torch.manual_seed(11)
    module = make()
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "weight_ih" in name or "bias" in name:
                p.mul_(12)
    x = torch.from_numpy((np.random.default_rng(12).standard_normal((1000, 1, 3)) * 4).astype(np.float32))
    layers, report = recur.from_torch(module, x)
    assert report.steps == 1000 and report.max_error < 1e-5
    pre = x[:, 0].numpy() @ module.weight_ih_l0.detach().numpy().T
    assert np.mean(np.abs(pre) > 7) > 0.3
