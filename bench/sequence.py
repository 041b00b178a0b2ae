"""Sequence mode against ONNX Runtime's own LSTM and GRU operators: time per
step of a whole sequence of T steps, one layer, batch 1, one thread.

    recur run    recur_run over the T steps (a raw ctypes call set up once)
    onnxruntime  an ONNX graph of one LSTM or GRU node (GRU with
                 linear_before_reset=1, PyTorch's form), one intra-op
                 thread, inputs and outputs bound once (IO binding)

Both run the same weights: the graph is converted with Recur's ONNX
converter, and the bench stops if the outputs differ by more than 1e-4.
The contenders are interleaved: each round runs each for a slice of about
50 ms in a rotating order; the table gives medians of the per-step time
over the rounds, and their ratio. With RESULTS_CSV set, rows are also
written there (bench/chart.py).

    python bench/sequence.py [ROUNDS]      (make bench; needs onnx and onnxruntime)"""
import csv
import ctypes
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))
import recur  # noqa: E402
from recur._native import lib  # noqa: E402

SIZES = [(1, 8), (16, 64), (64, 128), (128, 256), (256, 512)]
LENGTHS = [100, 1000]
SLICE = 0.05


def onnx_model(cell, inputs, hidden, rng):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    gates = 4 if cell == "lstm" else 3
    k = 1 / np.sqrt(hidden)
    w = rng.uniform(-k, k, (1, gates * hidden, inputs)).astype(np.float32)
    r = rng.uniform(-k, k, (1, gates * hidden, hidden)).astype(np.float32)
    b = rng.uniform(-k, k, (1, 2 * gates * hidden)).astype(np.float32)
    attrs = {"hidden_size": hidden}
    if cell == "gru":
        attrs["linear_before_reset"] = 1
    node = helper.make_node(cell.upper(), ["X", "W", "R", "B"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "bench", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, inputs])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["T", 1, 1, hidden])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model


def slice_of(fn):
    start = time.perf_counter()
    calls = 0
    while True:
        fn()
        calls += 1
        now = time.perf_counter()
        if now - start >= SLICE:
            return (now - start) / calls


def main(rounds=15):
    import onnx
    import onnxruntime as ort
    from recur import onnx_import
    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp())
    csv_path = os.environ.get("RESULTS_CSV")
    rows = []
    print(f"Sequence mode: ns per step over a sequence of T steps, one layer, batch 1, one thread; "
          f"medians of {rounds} interleaved rounds; Recur {recur.version()} ({recur.isa()} tier), "
          f"onnxruntime {ort.__version__}\n")
    print("| cell | I,H | T | recur run | onnxruntime | recur/onnxruntime |")
    print("| --- | --- | --- | --- | --- | --- |")
    for cell in ("lstm", "gru"):
        for inputs, hidden in SIZES:
            path = work / f"{cell}_{inputs}_{hidden}.onnx"
            onnx.save(onnx_model(cell, inputs, hidden, rng), path)
            layers, _ = onnx_import.convert(str(path))
            recur.save(work / "m.recur", layers)
            model = recur.Model(work / "m.recur")
            stream = model.stream()
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            for steps in LENGTHS:
                xs = rng.standard_normal((steps, 1, inputs)).astype(np.float32)
                ys = np.empty((steps, hidden), np.float32)
                binding = session.io_binding()
                x_value = ort.OrtValue.ortvalue_from_numpy(xs)
                y_value = ort.OrtValue.ortvalue_from_shape_and_type([steps, 1, 1, hidden], np.float32)
                binding.bind_ortvalue_input("X", x_value)
                binding.bind_ortvalue_output("Y", y_value)
                f = ctypes.POINTER(ctypes.c_float)
                run, handle = lib.recur_run, stream._handle
                xp, yp = xs.ctypes.data_as(f), ys.ctypes.data_as(f)

                def recur_run():
                    lib.recur_stream_reset(handle)
                    status = run(handle, steps, xp, xs.size, yp, ys.size)
                    assert status == 0, lib.recur_last_error()

                def onnxruntime():
                    session.run_with_iobinding(binding)

                recur_run()
                onnxruntime()
                gap = float(np.max(np.abs(ys - y_value.numpy().reshape(steps, hidden))))
                if gap > 1e-4:
                    sys.exit(f"{cell} {inputs},{hidden}: Recur and onnxruntime differ by {gap:g}")
                contenders = [("recur run", recur_run), ("onnxruntime", onnxruntime)]
                samples = {name: [] for name, _ in contenders}
                for r in range(rounds):
                    for j in range(len(contenders)):
                        name, fn = contenders[(j + r) % len(contenders)]
                        samples[name].append(slice_of(fn) / steps * 1e9)
                med = {name: statistics.median(v) for name, v in samples.items()}
                print(f"| {cell.upper()} | {inputs},{hidden} | {steps} | {med['recur run']:.0f} | "
                      f"{med['onnxruntime']:.0f} | {med['recur run'] / med['onnxruntime']:.2f} |", flush=True)
                for name, value in med.items():
                    rows.append({"table": "sequence", "cell": cell, "input": inputs, "hidden": hidden,
                                 "steps": steps, "contender": name, "ns_per_step": f"{value:.1f}"})
            stream.close()
            model.close()
    if csv_path:
        with open(csv_path, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
