"""The Python call against its floor: Stream.step (and with out=) against a
raw ctypes call of recur_step set up once (argtypes declared, as a ctypes
user writes it), the same call with no argtypes (every argument a ctypes
object: what Stream.step does inside), and Stream.run per step, in one
process, interleaved over many rounds; medians and spread (ns per call),
and each call's ratio to the floor as the median of its per-round ratios
(as bench/bench.c: the machine switches between two speeds).

    make bench-python        (or: python bench/python_step.py [ROUNDS])

Model: LSTM(16 -> 64) + Dense(64 -> 1), random weights."""
import ctypes
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))
import recur  # noqa: E402
from recur._native import lib  # noqa: E402


def model_path():
    rng = np.random.default_rng(0)
    u = lambda *s: rng.uniform(-0.3, 0.3, size=s)
    path = Path(tempfile.mkdtemp()) / "lstm_16_64.recur"
    recur.save(path, [recur.LSTM(u(256, 16), u(256, 64), u(256), u(256)), recur.Dense(u(1, 64), u(1))])
    return path


def main(rounds=64, calls=2000):
    model = recur.Model(model_path())
    stream = model.stream()
    x = np.linspace(-1, 1, 16, dtype=np.float32)
    y = np.empty(1, dtype=np.float32)
    xs = np.tile(x, (calls, 1))

    raw = lib.recur_step
    handle, xp, yp = stream._handle, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), y.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def c_raw():
        for _ in range(calls):
            raw(handle, xp, 16, yp, 1)
    # The same call with no argtypes and every argument a ctypes object made
    # once (what Stream.step does): ctypes converts nothing.
    bare = lib._FuncPtr(("recur_step", lib))
    bare.restype = ctypes.c_int
    args = (ctypes.c_void_p(handle), (ctypes.c_float * 16).from_buffer(x), ctypes.c_size_t(16),
            (ctypes.c_float * 1).from_buffer(y), ctypes.c_size_t(1))

    def c_bare():
        for _ in range(calls):
            bare(*args)

    def step():
        for _ in range(calls):
            stream.step(x)

    def step_out():
        for _ in range(calls):
            stream.step(x, out=y)

    def run():
        stream.run(xs)

    contenders = {"ctypes recur_step (floor)": c_raw, "ctypes recur_step, no argtypes": c_bare,
                  "Stream.step(x)": step, "Stream.step(x, out=y)": step_out, "Stream.run(xs) per step": run}
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():  # interleaved: every round runs each once
            t = time.perf_counter_ns()
            fn()
            times[name].append((time.perf_counter_ns() - t) / calls)
    floor = times["ctypes recur_step (floor)"]
    print(f"| call | ns per step (median) | spread (p10-p90) | / floor |")
    print(f"| --- | --- | --- | --- |")
    for name, ts in times.items():
        ratio = statistics.median(t / f for t, f in zip(ts, floor))
        ts = sorted(ts)
        med = statistics.median(ts)
        print(f"| {name} | {med:.0f} | {ts[len(ts) // 10]:.0f}-{ts[len(ts) * 9 // 10]:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 64)
