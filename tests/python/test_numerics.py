"""Outputs over 1000 steps against PyTorch (committed fixtures, made by
tests/fixtures/generate.py) and against the float64 NumPy reference."""
from pathlib import Path

import numpy as np
import pytest

import recur
from reference import Reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = sorted(p.name[: -len(".recur")] for p in FIXTURES.glob("*.recur"))
TOLERANCE = 1e-5  # float32 runtime against float64 / torch float32, per element


def load_case(name):
    model = recur.Model(FIXTURES / f"{name}.recur")
    x = np.fromfile(FIXTURES / f"{name}.x.f32", dtype="<f4").reshape(-1, model.input_size)
    y = np.fromfile(FIXTURES / f"{name}.y.f32", dtype="<f4").reshape(-1, model.output_size)
    return model, x, y


def test_fixtures_exist():
    assert len(CASES) >= 6


@pytest.mark.parametrize("name", CASES)
def test_step_matches_torch(name):
    model, x, expected = load_case(name)
    assert x.shape[0] == 1000
    stream = model.stream()
    got = np.stack([stream.step(row) for row in x])
    assert np.abs(got - expected).max() <= TOLERANCE


@pytest.mark.parametrize("name", CASES)
def test_run_matches_step_exactly(name):
    model, x, _ = load_case(name)
    a = model.stream()
    stepped = np.stack([a.step(row) for row in x[:200]])
    ran = model.stream().run(x[:200])
    assert np.array_equal(stepped, ran)


@pytest.mark.parametrize("name", CASES)
def test_matches_float64_reference(name):
    model, x, _ = load_case(name)
    ref = Reference((FIXTURES / f"{name}.recur").read_bytes()).run(x)
    got = model.stream().run(x)
    assert np.abs(got - ref).max() <= TOLERANCE


def random_stack(rng, input_size, spec):
    layers, width = [], input_size
    for kind, size in spec:
        scale = 1.0 / np.sqrt(size)
        u = lambda *shape: rng.uniform(-scale, scale, size=shape)
        if kind == "dense":
            layers.append(recur.Dense(u(size, width), u(size), "tanh"))
        else:
            cls, gates = (recur.LSTM, 4) if kind == "lstm" else (recur.GRU, 3)
            layers.append(cls(u(gates * size, width), u(gates * size, size), u(gates * size), u(gates * size)))
        width = size
    return layers


@pytest.mark.parametrize("input_size,spec", [
    (1, [("lstm", 1)]),
    (1, [("gru", 17)]),
    (3, [("lstm", 15), ("lstm", 16), ("gru", 33)]),
    (40, [("gru", 64), ("dense", 10)]),
    (9, [("lstm", 100), ("dense", 1)]),
])
def test_random_stacks_match_float64_reference(tmp_path, input_size, spec):
    rng = np.random.default_rng(input_size * 100 + len(spec))
    layers = random_stack(rng, input_size, spec)
    path = tmp_path / "m.recur"
    recur.save(path, layers)
    x = rng.normal(size=(1000, input_size)) * 2
    ref = Reference(path.read_bytes()).run(x)
    got = recur.Model(path).stream().run(x)
    assert np.abs(got - ref).max() <= TOLERANCE


def test_live_torch_matches(tmp_path):
    """Same check as the fixtures, but with torch computing now (when installed)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(11)
    lstm = torch.nn.LSTM(6, 29, num_layers=2)
    layers = [recur.LSTM(*(getattr(lstm, f"{n}_l{k}").detach().numpy()
                           for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))) for k in range(2)]
    path = tmp_path / "live.recur"
    recur.save(path, layers)
    x = torch.randn(1000, 1, 6)
    with torch.no_grad():
        expected, _ = lstm(x)
    got = recur.Model(path).stream().run(x.numpy().reshape(1000, 6))
    assert np.abs(got - expected.numpy().reshape(1000, 29)).max() <= TOLERANCE
