"""The survey's two formulas that the frameworks do not have (§5.1 full
peephole matrices, §5.2 z weighting the candidate), as Recur runs them,
against float64 NumPy transcriptions of the survey's equations as written:
1000 steps with inputs and weights large enough that the gates saturate,
on every instruction-set tier (a process per tier, RECUR_ISA)."""
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

STEPS = 1000
TOL = 1e-5
I, H = 6, 24


def sigma(v):
    return 1 / (1 + np.exp(-v))


def survey_peephole_lstm(xs, W, U, b):
    """§5.1: f_t = σ(W_f·[h_{t−1}, x_t] + U_f·C_{t−1} + b_f), i_t and o_t
    likewise; C̃_t = tanh(W_C·[h_{t−1}, x_t] + b_C); C_t = f_t * C_{t−1} +
    i_t * C̃_t; h_t = o_t * tanh(C_t). W, U, b are dicts by gate."""
    h, c = np.zeros(H), np.zeros(H)
    out, gates = [], []
    for x in xs:
        hx = np.concatenate([h, x])
        f = sigma(W["f"] @ hx + U["f"] @ c + b["f"])
        i = sigma(W["i"] @ hx + U["i"] @ c + b["i"])
        o = sigma(W["o"] @ hx + U["o"] @ c + b["o"])
        candidate = np.tanh(W["c"] @ hx + b["c"])
        c = f * c + i * candidate
        h = o * np.tanh(c)
        out.append(h)
        gates.append(np.concatenate([f, i, o]))
    return np.array(out), np.array(gates)


def survey_gru(xs, W, b):
    """§5.2: z_t = σ(W_z·[h_{t−1}, x_t] + b_z), r_t likewise; h̃_t =
    tanh(W·[r_t * h_{t−1}, x_t] + b); h_t = (1 − z_t) * h_{t−1} + z_t * h̃_t."""
    h = np.zeros(H)
    out, gates = [], []
    for x in xs:
        hx = np.concatenate([h, x])
        z = sigma(W["z"] @ hx + b["z"])
        r = sigma(W["r"] @ hx + b["r"])
        candidate = np.tanh(W["h"] @ np.concatenate([r * h, x]) + b["h"])
        h = (1 - z) * h + z * candidate
        out.append(h)
        gates.append(np.concatenate([z, r]))
    return np.array(out), np.array(gates)


def weights(seed, gates):
    rng = np.random.default_rng(seed)
    # float32 values, as the file holds them (the references compute in float64 on the same numbers).
    # [W_h | W_x]: large input weights saturate the gates; the recurrent ones stay moderate, since a
    # recurrence with a large gain amplifies float32's own rounding (in any float32 implementation,
    # libm's included) past 1e-5 within a few steps.
    scale = np.concatenate([np.full(H, 0.25), np.full(I, 1.5)])
    W = {g: (rng.normal(0, 1, (H, H + I)) * scale).astype(np.float32).astype(np.float64) for g in gates}
    b = {g: rng.normal(0, 1.0, H).astype(np.float32).astype(np.float64) for g in gates}
    return rng, W, b


def models():
    """(name, .recur bytes, float64 outputs, inputs) for both formulas."""
    rng, W, b = weights(1, "fico")
    U = {g: rng.normal(0, 0.3, (H, H)).astype(np.float32).astype(np.float64) for g in "fio"}
    xs = rng.normal(0, 4, (STEPS, I)).astype(np.float32).astype(np.float64)  # saturating: |pre-activations| in the tens
    rows = lambda part: np.concatenate([part(W[g]) for g in "ifco"])  # Recur's rows i, f, g, o
    lstm = recur.LSTM(rows(lambda w: w[:, H:]), rows(lambda w: w[:, :H]), np.concatenate([b[g] for g in "ifco"]),
                      None, peephole_matrix=np.concatenate([U["i"], U["f"], U["o"]]), output_peephole_previous=True)
    yield "peephole", recur.dumps([lstm]), survey_peephole_lstm(xs, W, U, b), xs
    rng, W, b = weights(2, "zrh")
    xs = rng.normal(0, 4, (STEPS, I)).astype(np.float32).astype(np.float64)
    rows = lambda part: np.concatenate([part(W[g]) for g in "rzh"])  # Recur's rows r, z, n
    gru = recur.GRU(rows(lambda w: w[:, H:]), rows(lambda w: w[:, :H]), np.concatenate([b[g] for g in "rzh"]), None,
                    reset_before_matmul=True, update="candidate")
    yield "gru", recur.dumps([gru]), survey_gru(xs, W, b), xs


RUN = """
import json, sys
import numpy as np
import recur
out = {}
for path in sys.argv[1:]:
    xs = np.load(path + ".x.npy")
    out[path] = {"isa": recur.isa(), "ys": recur.Model(path).stream().run(xs).tolist()}
print(json.dumps(out))
"""


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_survey_formulas_on_every_tier(isa):
    with tempfile.TemporaryDirectory() as work:
        cases = {}
        for name, data, want, xs in models():
            path = str(Path(work) / f"{name}.recur")
            Path(path).write_bytes(data)
            np.save(path + ".x.npy", xs.astype(np.float32))
            cases[path] = (name, want)
        env = dict(os.environ, RECUR_ISA=isa, PYTHONPATH=str(ROOT / "bindings" / "python"))
        done = subprocess.run([sys.executable, "-c", RUN, *cases], env=env, capture_output=True, text=True, check=True)
        results = json.loads(done.stdout)
    for path, (name, want) in cases.items():
        got = np.array(results[path]["ys"])
        expected_isa = isa if isa != "avx512" else recur.isa()  # the best tier this CPU has
        assert results[path]["isa"] == expected_isa
        want, gates = want
        saturated = np.mean((gates < 1e-3) | (gates > 1 - 1e-3))
        assert saturated > 0.3, f"{name}: only {saturated:.0%} of the gate values saturate"
        err = np.abs(got - want).max()
        assert err <= TOL, f"{name} on {isa}: max error {err:.3g}"
