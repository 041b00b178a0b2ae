"""The attention layer (docs/cells/attention.md): against the float64
reference (reference.py, which reads the weights back out of the file) for
every score on every instruction-set tier, against PyTorch modules, and its
contract: memory per stream, refusals, reset, snapshots, many streams."""
import copy
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

TOL = 1e-5
I, H, M, ROWS, STEPS = 5, 24, 20, 11, 300


def u(rng, scale, *shape):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


def lstm(rng, i, h, scale=0.5):
    return recur.LSTM(u(rng, scale, 4 * h, i), u(rng, scale, 4 * h, h), u(rng, 0.2, 4 * h), u(rng, 0.2, 4 * h))


def attention(rng, score, q=H, m=M, units=16, bias=True, scale=None, spread=1.0):
    if score == "dot":
        return recur.Attention("dot", q, q, scale=scale)
    if score == "general":
        return recur.Attention("general", q, m, weight=u(rng, spread, q, m), scale=scale)
    return recur.Attention("additive", q, m, weight_query=u(rng, spread, units, q), weight_memory=u(rng, spread, units, m),
                           bias=u(rng, 0.5, units) if bias else None, v=u(rng, 2 * spread, units), scale=scale)


# name: (score, attention options). "peaked": weights and a scale large
# enough that the softmax puts almost all weight on one row.
CASES = {
    "dot": ("dot", {}),
    "dot_scaled": ("dot", {"scale": 1 / np.sqrt(H)}),
    "general": ("general", {}),
    "general_peaked": ("general", {"spread": 2.0, "scale": 4.0}),
    "additive": ("additive", {}),
    "additive_no_bias": ("additive", {"bias": False}),
    "additive_peaked": ("additive", {"spread": 1.5, "scale": 3.0}),
}


def model(name, seed=0):
    """LSTM(I -> H) -> Attention -> Dense(tanh) -> Dense(3): Luong's decoder
    over vectors; and its memory rows."""
    score, options = CASES[name]
    rng = np.random.default_rng(seed)
    width = H if score == "dot" else M
    layers = [lstm(rng, I, H), attention(rng, score, m=width, **options),
              recur.Dense(u(rng, 0.4, 16, width + H), u(rng, 0.2, 16), activation="tanh"),
              recur.Dense(u(rng, 0.5, 3, 16), u(rng, 0.2, 3))]
    memory = u(rng, 1.0, ROWS, width)
    xs = u(rng, 1.5, STEPS, I)
    return recur.dumps(layers), memory, xs


def reference(data, memory, xs):
    ref = Reference(data)
    ref.set_memory(1, memory)
    return ref.run(xs)


RUN = """
import json, sys
import numpy as np
import recur
out = {}
for path in sys.argv[1:]:
    m = recur.Model(path)
    memory, xs = np.load(path + ".m.npy"), np.load(path + ".x.npy")
    s = m.stream()
    s.set_memory(1, memory)
    stepped = np.stack([s.step(x).copy() for x in xs])
    s.reset()
    s.set_memory(1, memory)
    out[path] = {"isa": recur.isa(), "step": stepped.tolist(), "run": s.run(xs).tolist()}
print(json.dumps(out))
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_every_score_against_float64_on_every_tier(isa):
    with tempfile.TemporaryDirectory() as work:
        cases = {}
        for name in CASES:
            data, memory, xs = model(name)
            path = str(Path(work) / f"{name}.recur")
            Path(path).write_bytes(data)
            np.save(path + ".m.npy", memory)
            np.save(path + ".x.npy", xs)
            cases[path] = (name, reference(data, memory, xs))
        env = dict(os.environ, RECUR_ISA=isa, PYTHONPATH=str(ROOT / "bindings" / "python"))
        done = subprocess.run([sys.executable, "-c", RUN, *cases], env=env, capture_output=True, text=True, check=True)
        results = json.loads(done.stdout)
    for path, (name, want) in cases.items():
        got = results[path]
        assert got["isa"] == (isa if isa != "avx512" else recur.isa())
        for mode in ("step", "run"):
            err = np.abs(np.array(got[mode]) - want).max()
            assert err <= TOL, f"{name} on {isa} ({mode}): max error {err:.3g}"
        assert got["step"] == got["run"], f"{name} on {isa}: run differs from step"


def test_peaked_cases_are_peaked():
    """The "peaked" cases put most of the softmax on one row (else they
    would test nothing the others do not)."""
    for name in ("general_peaked", "additive_peaked"):
        data, memory, xs = model(name)
        ref = Reference(data)
        a = ref.model.layers[1].attention
        from reference import _array
        q = np.tanh(np.random.default_rng(1).normal(size=(50, H)))
        if a.score == recur.recur_pb2.GENERAL:
            s = (memory @ _array(a.weight).T @ q.T).T * a.scale
        else:
            s = (np.tanh(q @ _array(a.weight_query).T[None] + (memory @ _array(a.weight_memory).T)[:, None, :]
                         + _array(a.bias)) @ _array(a.v)).T * a.scale
        w = np.exp(s - s.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        assert np.median(w.max(1)) > 0.8, name


# ---- against PyTorch -----------------------------------------------------


def torch_decoder(score, vocab=13, embed=8, hidden=24, memory=20, units=16, seed=3):
    """A Luong decoder as one would write it in PyTorch: Embedding -> LSTM
    -> attention (score) over memory -> tanh(Linear([context, h])) ->
    Linear. Returns the module and its Recur layers."""
    import torch
    from torch import nn
    torch.manual_seed(seed)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            if score == "general":
                self.w = nn.Linear(memory, hidden, bias=False)
            if score == "additive":
                self.wq = nn.Linear(hidden, units, bias=False)
                self.wm = nn.Linear(memory, units)
                self.v = nn.Linear(units, 1, bias=False)
            self.combine = nn.Linear(memory + hidden, hidden)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, tokens, state, m):  # m: (1, T, memory)
            h, state = self.lstm(self.embed(tokens), state)
            if score == "dot":
                s = h @ m.transpose(1, 2)
            elif score == "general":
                s = h @ self.w(m).transpose(1, 2)
            else:
                s = self.v(torch.tanh(self.wq(h)[:, :, None, :] + self.wm(m)[:, None, :, :]))[..., 0]
            context = torch.softmax(s, dim=-1) @ m
            return self.head(torch.tanh(self.combine(torch.cat([context, h], -1)))), state

    module = Decoder().eval()
    sd = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    if score == "dot":
        att = recur.Attention("dot", hidden, memory)
    elif score == "general":
        att = recur.Attention("general", hidden, memory, weight=sd["w.weight"])
    else:
        att = recur.Attention("additive", hidden, memory, weight_query=sd["wq.weight"], weight_memory=sd["wm.weight"],
                              bias=sd["wm.bias"], v=sd["v.weight"][0])
    layers = [recur.Embedding(sd["embed.weight"]),
              recur.LSTM(sd["lstm.weight_ih_l0"], sd["lstm.weight_hh_l0"], sd["lstm.bias_ih_l0"], sd["lstm.bias_hh_l0"]),
              att, recur.Dense(sd["combine.weight"], sd["combine.bias"], activation="tanh"),
              recur.Dense(sd["head.weight"], sd["head.bias"])]
    return module, layers


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_decoder_against_pytorch(score):
    import torch
    hidden = 24
    module, layers = torch_decoder(score, memory=hidden if score == "dot" else 20)
    rng = np.random.default_rng(5)
    width = layers[2].memory_size
    memory = rng.normal(0, 1, size=(17, width)).astype(np.float32)
    h0, c0 = (rng.normal(0, 0.5, size=hidden).astype(np.float32) for _ in range(2))
    tokens = rng.integers(0, 13, size=60)
    with torch.no_grad():
        want, _ = module(torch.tensor(tokens)[None], (torch.tensor(h0)[None, None], torch.tensor(c0)[None, None]),
                         torch.tensor(memory)[None])
    want = want[0].numpy()
    m = recur.Model(recur.dumps(layers))
    s = m.stream()
    s.set_state(1, h0, c0)
    s.set_memory(2, memory)
    got = np.stack([s.step_token(int(t)).copy() for t in tokens])
    assert np.abs(got - want).max() <= TOL
    s.reset()
    s.set_state(1, h0, c0)
    s.set_memory(2, memory)
    assert np.array_equal(s.run_tokens(tokens), got)


# ---- the contract --------------------------------------------------------


def small(score="general"):
    data, memory, xs = model("general" if score == "general" else score)
    return recur.Model(data), memory, xs


def test_layer_info():
    m, memory, _ = small()
    layer = m.layers[1]
    assert (layer.kind, layer.input_size, layer.output_size, layer.memory_size, layer.score, layer.scale) == \
        ("attention", H, M + H, M, "general", 1.0)
    assert layer.parameters == H * M
    data, _, _ = model("additive_peaked")
    a = recur.Model(data).layers[1]
    assert (a.score, a.units, a.scale, "bias" in a.options) == ("additive", 16, 3.0, True)
    assert a.parameters == 16 * H + 16 * M + 16 + 16


def test_stepping_needs_memory_and_reset_clears_it():
    m, memory, xs = small()
    s = m.stream()
    with pytest.raises(recur.NoMemorySetError, match="layer 1 is an attention layer"):
        s.step(xs[0])
    with pytest.raises(recur.NoMemorySetError):
        s.run(xs[:3])
    s.set_memory(1, memory)
    first = s.step(xs[0]).copy()
    s.reset()
    with pytest.raises(recur.NoMemorySetError):
        s.step(xs[0])
    s.set_memory(1, memory)
    assert np.array_equal(s.step(xs[0]), first)


def test_set_memory_refusals():
    m, memory, _ = small()
    s = m.stream()
    with pytest.raises(recur.InvalidArgumentError, match="layer 0 is a lstm layer, not an attention layer"):
        s.set_memory(0, memory)
    with pytest.raises(recur.OutOfRangeError):
        s.set_memory(9, memory)
    with pytest.raises(recur.SizeMismatchError, match=r"expected \(rows >= 1, 20\)"):
        s.set_memory(1, memory[:, :5])
    with pytest.raises(recur.SizeMismatchError):
        s.set_memory(1, np.zeros((0, M), np.float32))
    with pytest.raises(TypeError):
        s.set_memory(1, "rows")


def test_memory_is_copied_and_replaced():
    m, memory, xs = small()
    a, b = m.stream(), m.stream()
    rows = memory.copy()
    a.set_memory(1, rows)
    rows[:] = 0  # the stream keeps its copy
    b.set_memory(1, memory)
    assert np.array_equal(a.run(xs[:20]), b.run(xs[:20]))
    # Fewer rows after more: only the new rows count.
    a.reset(), b.reset()
    a.set_memory(1, memory)
    a.set_memory(1, memory[:4])
    b.set_memory(1, memory[:4])
    assert np.array_equal(a.run(xs[:20]), b.run(xs[:20]))
    # More rows than first reserved: the room grows.
    big = np.concatenate([memory] * 5)
    a.reset()
    a.set_memory(1, big)
    c = m.stream()
    c.set_memory(1, big)
    assert np.array_equal(a.run(xs[:5]), c.run(xs[:5]))


def test_one_row_gives_that_row():
    m, memory, xs = small()
    s = m.stream()
    s.set_memory(1, memory[3:4])
    y = s.run(xs[:10])
    want = reference(model("general")[0], memory[3:4], xs[:10])
    assert np.abs(y - want).max() <= TOL


def test_snapshots_carry_the_memory():
    m, memory, xs = small()
    s = m.stream()
    s.set_memory(1, memory)
    s.run(xs[:7])
    saved = s.snapshot()
    assert len(saved) == m.snapshot_size + 4 * ROWS * M
    assert saved[8:12] == (2).to_bytes(4, "little")  # snapshot format version 2: memory blocks
    later = s.run(xs[7:30])
    fresh = m.stream()
    fresh.restore(saved)  # reserves room for the rows first
    assert np.array_equal(fresh.run(xs[7:30]), later)
    assert np.array_equal(copy.copy(s).run(xs[30:40]), copy.deepcopy(s).run(xs[30:40]))
    # A stream without memory snapshots as one, and restoring it clears memory.
    empty = m.stream().snapshot()
    assert len(empty) == m.snapshot_size
    fresh.restore(empty)
    with pytest.raises(recur.NoMemorySetError):
        fresh.step(xs[0])


def test_snapshots_of_models_without_attention_stay_version_1():
    data = recur.dumps([lstm(np.random.default_rng(0), 2, 8)])
    assert recur.Model(data).stream().snapshot()[8:12] == (1).to_bytes(4, "little")


def test_step_streams():
    m, memory, xs = small()
    streams = [m.stream() for _ in range(5)]
    alone = [m.stream() for _ in range(5)]
    for k, (a, b) in enumerate(zip(streams, alone)):
        a.set_memory(1, memory[k:])
        b.set_memory(1, memory[k:])
    for t in range(10):
        x = np.stack([xs[t + k] for k in range(5)])
        together = m.step_streams(streams, x)
        assert np.array_equal(together, np.stack([b.step(x[k]) for k, b in enumerate(alone)]))
    streams[3].reset()
    with pytest.raises(recur.NoMemorySetError, match=r"streams\[3\]"):
        m.step_streams(streams, np.stack(xs[:5]))


def test_writer_refusals():
    with pytest.raises(ValueError, match="must equal memory_size"):
        recur.dumps([recur.Attention("dot", 4, 5)])
    with pytest.raises(ValueError, match="needs weight"):
        recur.dumps([recur.Attention("general", 4, 5)])
    with pytest.raises(ValueError, match="has no weight"):
        recur.dumps([recur.Attention("dot", 4, 4, weight=np.zeros((4, 4)))])
    with pytest.raises(ValueError, match="needs v"):
        recur.dumps([recur.Attention("additive", 4, 5, weight_query=np.zeros((3, 4)), weight_memory=np.zeros((3, 5)))])
    with pytest.raises(ValueError, match="unknown score"):
        recur.dumps([recur.Attention("cosine", 4, 4)])
    assert recur.load_message(recur.dumps([recur.Attention("dot", 4, 4)])).format_version == 3


# ---- the PyTorch importer ------------------------------------------------


def importable_decoder(score, batch_first=True, scale=None):
    import torch
    from torch import nn
    from recur.torch_modules import Attention
    torch.manual_seed(11)
    width = 24 if score == "dot" else 20

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(13, 8)
            self.lstm = nn.LSTM(8, 24, batch_first=batch_first)
            self.attend = Attention(score, 24, width, units=16, scale=scale, batch_first=batch_first)
            self.combine = nn.Linear(width + 24, 24)
            self.head = nn.Linear(24, 13)

        def forward(self, tokens, memory):
            h, _ = self.lstm(self.embed(tokens))
            return self.head(torch.tanh(self.combine(self.attend(h, memory))))

    return Decoder(), width


@pytest.mark.parametrize("score,batch_first,scale", [("dot", True, None), ("general", False, 0.5),
                                                     ("additive", True, None)])
def test_from_torch_maps_attention(score, batch_first, scale):
    import torch
    module, width = importable_decoder(score, batch_first, scale)
    rows = np.random.default_rng(2).normal(0, 1.5, size=(14, width)).astype(np.float32)
    tokens = torch.randint(0, 13, (1, 50) if batch_first else (50, 1))
    layers, report = recur.from_torch(module, tokens, memory=rows)
    assert report.max_error <= TOL
    assert [type(layer).__name__ for layer in layers] == ["Embedding", "LSTM", "Attention", "Dense", "Dense"]
    assert layers[2].score == score and layers[3].activation == "tanh"
    # Random memory when none is given.
    assert recur.from_torch(module, tokens)[1].max_error <= TOL


def test_from_torch_attention_refusals():
    import torch
    from torch import nn
    from recur.torch_modules import Attention

    class MemoryElsewhere(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8)
            self.attend = Attention("dot", 8, 8)

        def forward(self, x, memory):
            h, _ = self.lstm(x + memory.mean())
            return self.attend(h, memory)

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8)

        def forward(self, x, memory):
            h, _ = self.lstm(x)
            return h

    class Swapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8)
            self.attend = Attention("dot", 8, 8)

        def forward(self, x, memory):
            h, _ = self.lstm(x)
            return self.attend(memory, h)

    for module, message in [(MemoryElsewhere(), "may only go to attention modules"),
                            (Unused(), "no attention module reads it"),
                            (Swapped(), "attention must take the previous result")]:
        with pytest.raises(recur.conversion.ConversionError, match=message):
            recur.from_torch(module, torch.zeros(5, 1, 3))
