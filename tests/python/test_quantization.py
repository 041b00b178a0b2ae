"""bf16 and int8 weights (format version 4, docs/quantization.md): the
writer's rounding against PyTorch's bfloat16 and against the int8
definition; files with reduced weights computed exactly as their stored
values say (against the float64 reference, which reads them itself);
each type within its documented error budget on the fidelity fixtures
and the bundled models; the converters' --weights and their budget."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import recur
from conftest import ROOT
from reference import Reference

sys.path.insert(0, str(ROOT / "scripts"))
import quantization_budget as budget  # noqa: E402

TOL = 1e-5


def test_bfloat16_rounds_as_pytorch_does():
    import torch
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(0, 1, 5000), rng.normal(0, 1e-30, 100), [0.0, -0.0, 1e38, -3.4e38, 3.39e38],
                        # halfway cases: ties go to the even bfloat16
                        np.array([0x3F808000, 0x3F818000, 0x7F7F8000], np.uint32).view(np.float32)]).astype(np.float32)
    want = torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(recur.writer.bfloat16(a), want)
    nan = recur.writer.bfloat16(np.array([np.nan], np.float32)).astype(np.uint32) << 16
    assert np.isnan(nan.view(np.float32)).all()


def test_int8_is_symmetric_per_row():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (40, 33)).astype(np.float32) * rng.uniform(0.01, 10, (40, 1)).astype(np.float32)
    a[3] = 0
    q, scales = recur.writer.int8(a)
    assert q.dtype == np.int8 and np.abs(q).max() <= 127 and scales[3] == 1
    assert np.allclose(scales[np.arange(40) != 3], np.abs(a).max(1)[np.arange(40) != 3] / 127)
    assert (np.abs(q * scales[:, None] - a) <= scales[:, None] / 2 * 1.0001).all()
    assert (np.abs(q).max(1)[np.arange(40) != 3] == 127).all()


def models():
    rng = np.random.default_rng(2)
    u = lambda *s: rng.uniform(-0.5, 0.5, size=s).astype(np.float32)
    return {
        "lstm_dense": [recur.LSTM(u(64, 7), u(64, 16), u(64), u(64)), recur.Dense(u(3, 16), u(3), "tanh")],
        "gru_projection": [recur.GRU(u(60, 5), u(60, 20), u(60), None),
                           recur.LSTM(u(48, 20), u(48, 6), u(48), u(48), weight_proj=u(6, 12), peephole_matrix=u(36, 12))],
        "token_attention": [recur.Embedding(u(11, 6)), recur.LSTM(u(32, 6), u(32, 8), u(32), u(32)),
                            recur.Attention("additive", 8, 5, weight_query=u(4, 8), weight_memory=u(4, 5), bias=u(4),
                                            v=u(4)), recur.Dense(u(11, 13), u(11))],
    }


@pytest.mark.parametrize("weights", ["bf16", "int8"])
@pytest.mark.parametrize("name", list(models()))
def test_reduced_files_compute_their_stored_weights(name, weights):
    """Recur widens the stored weights when it loads them: its outputs are
    the float64 reference's, which reads the same file (bfloat16 halves,
    int8 times scales) on its own."""
    layers = models()[name]
    data = recur.dumps(layers, weights=weights)
    message = recur.load_message(data)
    assert message.format_version == 4
    model = recur.Model(data)
    assert {layer.weights for layer in model.layers if layer.kind not in ("softmax",)} == {weights}
    rng = np.random.default_rng(3)
    ref = Reference(data)
    stream = model.stream()
    if model.vocab_size:
        xs = rng.integers(0, model.vocab_size, size=200)
        rows = rng.normal(0, 1, (9, 5)).astype(np.float32)
        stream.set_memory(2, rows)
        ref.set_memory(2, rows)
        got = stream.run_tokens(xs)
    else:
        xs = rng.normal(0, 2, (200, model.input_size)).astype(np.float32)
        got = stream.run(xs)
    assert np.abs(got - ref.run(xs)).max() <= TOL
    # Smaller files: bf16 halves the weight matrices, int8 quarters them (plus a scale per row; biases stay).
    assert len(data) < len(recur.dumps(layers)) * (0.75 if weights == "bf16" else 0.5)


def narrow_models():
    """Fused cells and dense layers keep bf16 and int8 panels narrow
    (Kernels/Narrow.swift): several blocks, odd x and h widths, a last
    block part full, and a dense layer over an odd number of columns."""
    rng = np.random.default_rng(4)
    u = lambda *s: rng.uniform(-0.4, 0.4, size=s).astype(np.float32)
    return {
        "lstm_wide": [recur.LSTM(u(4 * 37, 33), u(4 * 37, 37), u(4 * 37), u(4 * 37)),
                      recur.LSTM(u(4 * 48, 37), u(4 * 48, 48), u(4 * 48), None), recur.Dense(u(5, 48), u(5), "tanh")],
        "gru_odd": [recur.GRU(u(3 * 45, 17), u(3 * 45, 45), u(3 * 45), u(3 * 45)), recur.Dense(u(19, 45), None),
                    recur.GRU(u(3 * 16, 19), u(3 * 16, 16), None, u(3 * 16))],
        "one_input": [recur.LSTM(u(4 * 8, 1), u(4 * 8, 8), u(4 * 8), u(4 * 8)), recur.Dense(u(1, 8), u(1))],
        # The general path (GeneralCell): its matrices narrow too.
        "general": [recur.GRU(u(3 * 41, 9), u(3 * 41, 41), u(3 * 41), u(3 * 41), reset_before_matmul=True),
                    recur.LSTM(u(4 * 40, 41), u(4 * 40, 11), u(4 * 40), u(4 * 40), weight_proj=u(11, 40),
                               bias_proj=u(11), peephole_matrix=u(120, 40), layer_norm=1 + u(4, 40)),
                    recur.RNN(u(37, 11), u(37, 37), u(37), None, clip=3.0)],
    }


NARROW_RUN = """
import json, sys
import numpy as np
import recur
out = {}
for path in sys.argv[1:]:
    policy = path.split(".")[-2]
    m = recur.Model(path, weight_storage=policy)
    kept = {layer.storage for layer in m.layers}
    assert kept == {layer.weights for layer in m.layers} if policy == "narrow" else \
        kept == ({"fp32"} if "one_input" in path or recur.isa() != "avx512" else {"bf16", "fp32"}), (path, kept)
    xs = np.load(path + ".x.npy")
    s = m.stream()
    stepped = np.stack([s.step(x).copy() for x in xs])
    s.reset()
    ran = s.run(xs)
    streams = [m.stream() for _ in range(5)]
    many = np.stack([m.step_streams(streams, np.stack([x] * 5)).copy() for x in xs])
    out[path] = {"isa": recur.isa(), "step": stepped.tolist(), "run": ran.tolist(), "many": many.tolist()}
print(json.dumps(out))
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_narrow_panels_on_every_tier(isa):
    """Each tier's narrow kernels (bf16, int8, int8 as bf16 codes) against
    the float64 reference; run and step_streams give the step's bits; the
    FMA tiers agree bit for bit."""
    results = {}
    for tier in dict.fromkeys([isa, "avx2"]) if isa == "avx512" else [isa]:
        results[tier] = narrow_outputs(tier)
    for path, (name, weights, want) in narrow_cases().items():
        got = results[isa][path]
        assert got["isa"] == (isa if isa != "avx512" else recur.isa())
        err = np.abs(np.array(got["step"]) - want).max()
        assert err <= TOL, f"{name} {weights} on {isa}: max error {err:.3g}"
        assert got["run"] == got["step"], f"{name} {weights} on {isa}: run differs from step"
        assert np.array_equal(np.array(got["many"]), np.repeat(np.array(got["step"])[:, None], 5, axis=1)), name
        if isa == "avx512" and recur.isa() == "avx512" and ".narrow." in path:  # "auto" differs by tier
            assert got["step"] == results["avx2"][path]["step"], f"{name} {weights}: avx512 and avx2 differ"


def test_weight_storage_policies():
    """"auto" keeps a layer narrow past 32 KiB of float32 weights on AVX-512
    (an int8 one as bf16 codes while they fit in half the largest cache),
    "narrow" always in the file's type, "fp32" never; all compute the
    file's weights."""
    rng = np.random.default_rng(6)
    u = lambda *s: rng.uniform(-0.1, 0.1, size=s).astype(np.float32)
    small = recur.LSTM(u(32, 1), u(32, 8), u(32), u(32))                    # 4.6 KB as float32
    middle = recur.LSTM(u(256, 16), u(256, 64), u(256), u(256))             # 84 KB
    large = recur.GRU(u(768, 128), u(768, 256), u(768), u(768))             # 1.2 MB
    # "auto" by tier: narrow past 32 KiB on AVX-512, past 1 MiB on AVX2, never on the baseline.
    auto = {"avx512": ["fp32", "bf16", "bf16"], "avx2": ["fp32", "fp32", "bf16"], "baseline": ["fp32"] * 3}[recur.isa()]
    want = {"bf16": {"auto": auto, "narrow": ["bf16"] * 3, "fp32": ["fp32"] * 3},
            "int8": {"auto": auto, "narrow": ["int8"] * 3, "fp32": ["fp32"] * 3}}
    for weights, policies in want.items():
        data = recur.dumps([small, recur.Dense(u(16, 8), u(16)), middle], weights=weights)
        big = recur.dumps([large], weights=weights)
        xs = rng.normal(0, 1, (20, 1)).astype(np.float32)
        xl = rng.normal(0, 1, (20, 128)).astype(np.float32)
        outputs = []
        for policy, storage in policies.items():
            m, b = recur.Model(data, weight_storage=policy), recur.Model(big, weight_storage=policy)
            assert [layer.storage for layer in m.layers if layer.kind != "dense"] + [b.layers[0].storage] == storage
            assert m.layers[1].storage == ("fp32" if policy != "narrow" else weights)  # 8 x 16: small
            outputs.append((m.stream().run(xs), b.stream().run(xl)))
        for got in outputs[1:]:
            assert np.abs(got[0] - outputs[0][0]).max() <= TOL and np.abs(got[1] - outputs[0][1]).max() <= TOL
    with pytest.raises(ValueError, match="weight_storage"):
        recur.Model(data, weight_storage="int4")
    from recur import _native
    options = _native.lib.recur_load_options_default()
    options.weight_storage = 3
    handle = _native.ctypes.c_void_p()
    assert _native.lib.recur_model_load_memory_ex(data, len(data), _native.ctypes.byref(options),
                                                  _native.ctypes.byref(handle)) == recur.InvalidArgumentError.status
    assert b"weight_storage" in _native.lib.recur_last_error() and not handle.value


def narrow_cases():
    cases = {}
    work = Path(tempfile.gettempdir()) / f"recur-narrow-{os.getpid()}"
    work.mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    for name, layers in narrow_models().items():
        for weights in ("bf16", "int8"):
            data = recur.dumps(layers, weights=weights)
            model = recur.Model(data, weight_storage="narrow")
            assert {layer.weights for layer in model.layers} == {layer.storage for layer in model.layers} == {weights}
            xs = rng.normal(0, 1.5, (60, model.input_size)).astype(np.float32)
            want = Reference(data).run(xs)
            # "auto": the wide layers as bf16 (int8 files: as bf16 codes), the small ones widened.
            for policy in ("narrow", "auto"):
                path = str(work / f"{name}-{weights}.{policy}.recur")
                Path(path).write_bytes(data)
                np.save(path + ".x.npy", xs)
                cases[path] = (f"{name} ({policy})", weights, want)
    return cases


def narrow_outputs(isa):
    cases = narrow_cases()
    env = dict(os.environ, RECUR_ISA=isa, PYTHONPATH=str(ROOT / "bindings" / "python"))
    done = subprocess.run([sys.executable, "-c", NARROW_RUN, *cases], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("weights", ["bf16", "int8"])
def test_fidelity_fixtures_within_budget(weights):
    for path in budget.FIXTURES:
        _, relative = budget.output_error(path, weights)
        assert relative <= budget.BUDGETS[weights]["relative"], (path.name, relative)


def test_bundled_models_within_budget(tmp_path):
    """The applications' own measures: the forecaster's error, the language
    model's bits per character, the translator's exact match."""
    apps = budget.applications(tmp_path)
    mae, bpc, exact = apps["fp32"]
    for weights in budget.TYPES:
        b = budget.BUDGETS[weights]
        w_mae, w_bpc, w_exact = apps[weights]
        assert abs(w_mae - mae) <= b["mae"], (weights, w_mae, mae)
        assert w_bpc - bpc <= b["bpc"], (weights, w_bpc, bpc)
        assert exact - w_exact <= b["exact"], (weights, w_exact, exact)
    for path in budget.BUNDLED:  # bf16 also keeps every raw output within its budget
        assert budget.output_error(path, "bf16")[1] <= budget.BUDGETS["bf16"]["relative"], path.name


def test_converters_check_against_the_budget(tmp_path):
    import torch
    from torch import nn
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 32)
    for weights in ("bf16", "int8"):
        layers, report = recur.from_torch(lstm, weights=weights)
        assert report.weights == weights and 1e-5 < report.max_error <= report.tolerance
    # Weights so large that int8's rounding makes the recurrence diverge: refused, naming the budget.
    with torch.no_grad():
        for p in lstm.parameters():
            p.mul_(40)
    with pytest.raises(recur.conversion.ConversionError, match="int8 budget"):
        recur.from_torch(lstm, weights="int8")
    with pytest.raises(ValueError, match="weights must be one of"):
        recur.from_torch(lstm, weights="fp16")


def test_convert_cli_writes_reduced_weights(tmp_path):
    import torch
    from torch import nn
    torch.manual_seed(1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 24, batch_first=True)
            self.head = nn.Linear(24, 2)

        def forward(self, x):
            return self.head(self.gru(x)[0])

    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(Net().eval(), (torch.zeros(1, 20, 3),)), path)
    out = tmp_path / "net.recur"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    done = subprocess.run([sys.executable, "-m", "recur", "convert", "--weights", "int8", str(path), str(out)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "(int8 weights)" in done.stdout
    assert {layer.weights for layer in recur.Model(out).layers} == {"int8"}
    assert recur.load_message(out.read_bytes()).format_version == 4
