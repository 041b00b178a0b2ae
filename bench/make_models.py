"""Writes the benchmark models: LSTM and GRU (one layer, random weights in
PyTorch's default init range) at the sizes bench.c measures, as NAME.recur
plus NAME.raw (weight_ih, weight_hh, bias_ih, bias_hh as float32, for the
plain-C baseline in the same run), and NAME-bf16.recur and NAME-int8.recur,
the same layer with its weight matrices stored as bfloat16 and int8 (the
weights table of bench.c).

    python bench/make_models.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))
import recur  # noqa: E402

SIZES = [(1, 8), (1, 32), (16, 64), (64, 128), (128, 256), (256, 512), (512, 1024)]


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for kind, cls, gates in (("lstm", recur.LSTM, 4), ("gru", recur.GRU, 3)):
        for i, h in SIZES:
            k = 1 / np.sqrt(h)
            w = [rng.uniform(-k, k, size=s).astype(np.float32)
                 for s in ((gates * h, i), (gates * h, h), (gates * h,), (gates * h,))]
            name = f"{kind}_{i}_{h}"
            recur.save(out / f"{name}.recur", [cls(*w)])
            for weights in ("bf16", "int8"):
                recur.save(out / f"{name}-{weights}.recur", [cls(*w)], weights=weights)
            np.concatenate([a.reshape(-1) for a in w]).tofile(out / f"{name}.raw")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
