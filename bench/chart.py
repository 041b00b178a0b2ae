"""Draws bench.c's results (the CSV files RESULTS_CSV wrote, one per
instruction-set tier) as one PNG: for LSTM and GRU, recur_step's time per
step against the roof kernel and the plain C loop measured in the same run,
by size, with the p10-p90 spread as error bars.

    python bench/chart.py OUT.png RESULTS.csv ...   (make bench)"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(out, paths):
    rows = [r for p in paths for r in csv.DictReader(open(p))]
    tiers = sorted({r["isa"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(len(tiers), 2, figsize=(12, 4.2 * len(tiers)), squeeze=False)
    for ti, tier in enumerate(tiers):
        for ci, cell in enumerate(("lstm", "gru")):
            ax = axes[ti][ci]
            series = defaultdict(list)
            for r in rows:
                if r["isa"] == tier and r["cell"] == cell:
                    series[r["contender"]].append(r)
            labels = [f'{r["input"]},{r["hidden"]}' for r in series["recur step"]]
            for name, style in (("recur step", "o-"), ("recur run", "s--"), ("roof", "^:"), ("plain C", "x-.")):
                s = series[name]
                med = [float(r["median_ns"]) for r in s]
                err = [[m - float(r["p10_ns"]) for m, r in zip(med, s)], [float(r["p90_ns"]) - m for m, r in zip(med, s)]]
                ax.errorbar(range(len(s)), med, yerr=err, fmt=style, capsize=3, label=name)
            ax.set_yscale("log")
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlabel("input, hidden")
            ax.set_ylabel("ns per step (median, p10-p90)")
            ax.set_title(f"{cell.upper()}, one layer, batch 1: {tier} tier")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
