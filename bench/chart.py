"""Draws bench.c's results (the CSV files RESULTS_CSV wrote, one per
instruction-set tier) as one PNG: for LSTM and GRU, by size, each
contender's time per step divided by the roof kernel's in the same run
(1 = reading every weight once at this machine's bandwidth; lower is
faster), with the p10-p90 spread of the contender as error bars. RTNeural
appears when the bench was built with RTNEURAL_DIR. A CSV of
bench/streams.c adds a row: many streams' GFLOP/s as a share of the
register-only FMA peak measured in the same run; one of bench/sequence.py
another: recur_run's time per step over onnxruntime's LSTM and GRU
operators'; bench.c's weights tables (WEIGHTS_CSV) another: the speed-up
of bfloat16 and int8 weights over float32.

    python bench/chart.py OUT.png RESULTS.csv ...   (make bench)"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(out, paths):
    every = [r for p in paths for r in csv.DictReader(open(p))]
    rows = [r for r in every if "isa" in r and r["isa"] and not r.get("table")]
    streams = [r for r in every if r.get("table") == "streams"]
    sequence = [r for r in every if r.get("table") == "sequence"]
    weights = [r for r in every if r.get("table") == "weights"]
    tiers = sorted({r["isa"] for r in rows}, reverse=True)
    panels = len(tiers) + bool(streams) + bool(sequence) + bool(weights)
    fig, axes = plt.subplots(panels, 2, figsize=(12, 4.2 * panels), squeeze=False)
    if streams:
        draw_streams(axes[len(tiers)], streams)
    if sequence:
        draw_sequence(axes[len(tiers) + bool(streams)], sequence)
    if weights:
        draw_weights(axes[panels - 1], weights)
    for ti, tier in enumerate(tiers):
        for ci, cell in enumerate(("lstm", "gru")):
            ax = axes[ti][ci]
            series = defaultdict(list)
            for r in rows:
                if r["isa"] == tier and r["cell"] == cell:
                    series[r["contender"]].append(r)
            labels = [f'{r["input"]},{r["hidden"]}' for r in series["recur step"]]
            roof = [float(r["median_ns"]) for r in series["roof"]]
            for name, style in (("recur step", "o-"), ("recur run", "s--"), ("RTNeural", "D-"), ("plain C", "x-.")):
                s = series[name]
                if not s:
                    continue
                med = [float(r["median_ns"]) / f for r, f in zip(s, roof)]
                err = [[m - float(r["p10_ns"]) / f for m, r, f in zip(med, s, roof)],
                       [float(r["p90_ns"]) / f - m for m, r, f in zip(med, s, roof)]]
                ax.errorbar(range(len(s)), med, yerr=err, fmt=style, capsize=3, label=name)
            ax.axhline(1.0, color="gray", linestyle=":", label="roof")
            ax.set_yscale("log")
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlabel("input, hidden")
            ax.set_ylabel("time per step / roof kernel's (median)")
            ax.set_title(f"{cell.upper()}, one layer, batch 1: {tier} tier")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def draw_streams(axes, rows):
    for ci, cell in enumerate(("lstm", "gru")):
        ax = axes[ci]
        series = defaultdict(list)
        for r in rows:
            if r["cell"] == cell:
                series[r["contender"]].append(r)
        peak = [float(r["gflops"]) for r in series["peak"]]
        labels = [f'{r["input"]},{r["hidden"]}' for r in series["together"]]
        n = series["together"][0]["streams"] if series["together"] else "?"
        for name, style in (("together", "o-"), ("one by one", "s--"), ("one", "x-.")):
            s = series[name]
            ax.plot(range(len(s)), [float(r["gflops"]) / p for r, p in zip(s, peak)], style,
                    label=f"{name} ({n} streams)" if name != "one" else "one stream")
        ax.set_ylim(0, 1.05)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("input, hidden")
        ax.set_ylabel("GFLOP/s / register-only FMA peak")
        ax.set_title(f"{cell.upper()}: many streams of one model (recur_step_streams)")
        ax.grid(True, alpha=0.3)
        ax.legend()


def draw_sequence(axes, rows):
    for ci, cell in enumerate(("lstm", "gru")):
        ax = axes[ci]
        time = {(r["input"], r["hidden"], r["steps"], r["contender"]): float(r["ns_per_step"])
                for r in rows if r["cell"] == cell}
        sizes = sorted({(k[0], k[1]) for k in time}, key=lambda s: int(s[1]))
        for steps, style in (("100", "o-"), ("1000", "s--")):
            ratio = [time[(i, h, steps, "recur run")] / time[(i, h, steps, "onnxruntime")] for i, h in sizes]
            ax.plot(range(len(sizes)), ratio, style, label=f"recur_run, T = {steps}")
        ax.axhline(1.0, color="gray", linestyle=":", label="onnxruntime")
        ax.set_xticks(range(len(sizes)), [f"{i},{h}" for i, h in sizes])
        ax.set_xlabel("input, hidden")
        ax.set_ylabel("time per step / onnxruntime's (median)")
        ax.set_title(f"{cell.upper()}: sequence mode against onnxruntime's operator (one thread)")
        ax.grid(True, alpha=0.3)
        ax.legend()


def draw_weights(axes, rows):
    """Speed-up of bfloat16 and int8 weights over float32 (same rounds)."""
    for ci, cell in enumerate(("lstm", "gru")):
        ax = axes[ci]
        time = {(r["isa"], r["input"], r["hidden"], r["weights"]): float(r["median_ns"]) for r in rows if r["cell"] == cell}
        sizes = sorted({(k[1], k[2]) for k in time}, key=lambda s: int(s[1]))
        for isa in sorted({k[0] for k in time}, reverse=True):
            for weights, style in (("bf16", "o"), ("int8", "s")):
                ratio = [time[(isa, i, h, "fp32")] / time[(isa, i, h, weights)] for i, h in sizes]
                ax.plot(range(len(sizes)), ratio, style + ("-" if isa != "avx2" else "--"), label=f"{weights}, {isa}")
        ax.axhline(1.0, color="gray", linestyle=":", label="float32")
        ax.set_xticks(range(len(sizes)), [f"{i},{h}" for i, h in sizes])
        ax.set_xlabel("input, hidden")
        ax.set_ylabel("float32 time per step / this type's (median)")
        ax.set_title(f"{cell.upper()}: recur_step with narrow weights (RECUR_WEIGHTS_AUTO)")
        ax.grid(True, alpha=0.3)
        ax.legend()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
