"""Steps every model given for 1000 steps on each instruction-set tier this
machine runs (RECUR_ISA=avx512, avx2, baseline; tests/c/tier_outputs.c)
and compares: the FMA tiers must agree bit for bit (same operations in the
same order per lane), the baseline (no FMA) within 1e-5 relative to each
output's magnitude over the run: |a - b| <= 1e-5 * max(1, max over steps |a|).
(Relative to each element instead, an output that passes near zero while
the state it comes from is large shows the rounding of the terms it
cancels: the sunspot forecaster's output reaches 13 and differs by 2e-5.)

    python tests/isa/compare_tiers.py out/tier_outputs MODEL.recur ...
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TIERS = ["avx512", "avx2", "baseline"]


def outputs(program, model, tier, directory):
    """(tier chosen, outputs as [steps, output_size])."""
    path = Path(directory) / f"{Path(model).stem}.{tier}.f32"
    run = subprocess.run([program, model, str(path)], env={**os.environ, "RECUR_ISA": tier},
                         capture_output=True, text=True, check=True)
    ys = np.fromfile(path, dtype=np.float32)
    return run.stdout.strip(), ys.reshape(1000, -1)


def main(program, models):
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        for model in models:
            results = {}
            for tier in TIERS:
                chosen, ys = outputs(program, model, tier, directory)
                if chosen == tier:  # a tier above this CPU's falls back to a lower one
                    results[tier] = ys
            line = [Path(model).name]
            if "avx512" in results and "avx2" in results:
                same = np.array_equal(results["avx512"].view(np.uint32), results["avx2"].view(np.uint32))
                line.append(f"avx512 == avx2 bit for bit: {same}")
                failures += not same
            fma = results.get("avx2", results.get("avx512"))
            if fma is not None and "baseline" in results:
                b = results["baseline"]
                scale = np.maximum(1, np.abs(fma).max(axis=0))
                worst = float(np.max(np.abs(fma.astype(np.float64) - b) / scale))
                ok = worst <= 1e-5 and np.isfinite(b).all() == np.isfinite(fma).all()
                line.append(f"baseline within {worst:.1e} relative")
                failures += not ok
            print("  ".join(line))
    print(f"compare_tiers: {len(models)} models, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
