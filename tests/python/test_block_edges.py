"""LSTM layers across the edges of 16-unit blocks. A last block of 1 to 8
units runs at half width (LSTMCell.finishHalves: the gates two to a
vector), in `step` and in the chunked `run`; `step_streams` keeps whole
vectors. On every tier: the float64 reference within 1e-5, run and
step_streams equal to step bit for bit, and the FMA tiers equal bit for
bit."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import recur
from conftest import ROOT
from reference import Reference

TOL = 1e-5
STEPS = 40
# Hidden sizes on both sides of the block edges (1-8 units in the last
# block: half width; 9-16: whole), one and two blocks and more.
HIDDEN = [1, 7, 8, 9, 15, 16, 17, 24, 25, 40]
# 1 input: run steps; 9 inputs (odd, at least 8): run takes chunks, whose h
# phase continues the x sums with the column's parity.
INPUTS = [1, 9]

RUN = """
import json, sys
import numpy as np
import recur
out = {}
for path in sys.argv[1:]:
    m = recur.Model(path)
    xs = np.load(path + ".x.npy")
    s = m.stream()
    stepped = np.stack([s.step(x).copy() for x in xs])
    s.reset()
    ran = s.run(xs)
    streams = [m.stream() for _ in range(4)]
    many = np.stack([m.step_streams(streams, np.stack([x] * 4)).copy() for x in xs])
    out[path] = {"isa": recur.isa(), "step": stepped.tolist(), "run": ran.tolist(), "many": many.tolist()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    work = tmp_path_factory.mktemp("block-edges")
    rng = np.random.default_rng(12)
    found = {}
    for inputs in INPUTS:
        for hidden in HIDDEN:
            u = lambda *s: rng.uniform(-0.6, 0.6, size=s).astype(np.float32)
            # Two layers: the second takes the first's half block as its input.
            layers = [recur.LSTM(u(4 * hidden, inputs), u(4 * hidden, hidden), u(4 * hidden), u(4 * hidden)),
                      recur.LSTM(u(4 * hidden, hidden), u(4 * hidden, hidden), u(4 * hidden), u(4 * hidden))]
            data = recur.dumps(layers)
            xs = rng.normal(0, 1.5, (STEPS, inputs)).astype(np.float32)
            path = work / f"lstm_i{inputs}_h{hidden}.recur"
            path.write_bytes(data)
            np.save(str(path) + ".x.npy", xs)
            found[str(path)] = Reference(data).run(xs)
    return found


def outputs(isa, paths):
    env = dict(os.environ, RECUR_ISA=isa, PYTHONPATH=str(ROOT / "bindings" / "python"))
    done = subprocess.run([sys.executable, "-c", RUN, *paths], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_block_edges_on_every_tier(isa, cases):
    got = outputs(isa, list(cases))
    other = outputs("avx2", list(cases)) if isa == "avx512" and recur.isa() == "avx512" else None
    for path, want in cases.items():
        name = os.path.basename(path)
        g = got[path]
        assert g["isa"] == (isa if isa != "avx512" else recur.isa())
        err = np.abs(np.array(g["step"]) - want).max()
        assert err <= TOL, f"{name} on {isa}: max error {err:.3g}"
        assert g["run"] == g["step"], f"{name} on {isa}: run differs from step"
        assert np.array_equal(np.array(g["many"]), np.repeat(np.array(g["step"])[:, None], 4, axis=1)), \
            f"{name} on {isa}: step_streams differs from step"
        if other is not None:
            assert g["step"] == other[path]["step"], f"{name}: avx512 and avx2 differ"
