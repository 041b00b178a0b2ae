"""The bundled forecaster as a picture, and forecasts several years ahead.

One stream reads the yearly sunspot series 1700-2008 one year at a time and
forecasts the next year (as `make demo` does in C). From each held-out year
on, a copy of the stream (copy.copy: a snapshot restored into a new stream)
keeps going on its own forecasts, fed back as inputs, to forecast 2, 3, ...
years ahead without disturbing the main stream. Each horizon's mean absolute
error over the held-out years (1949-2008) is set against the naive forecast
(every future year = the last year seen).

    python examples/forecast/plot.py [OUT.png]     (make demo-plot; needs matplotlib)

Writes examples/forecast/forecast.png by default and prints the table."""
import copy
import sys
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
import recur  # noqa: E402

HELD_OUT_FROM = 1949
HORIZONS = 11  # about one solar cycle


def load_series(path=here / "sunspots.csv"):
    rows = [line.split(",") for line in path.read_text().splitlines() if line and line[0].isdigit()]
    return np.array([int(r[0]) for r in rows]), np.array([float(r[1]) for r in rows], dtype=np.float32)


def forecasts(model, values, first, horizons=HORIZONS):
    """ahead[h - 1][t]: the forecast for year index t made h years ahead,
    from a stream that has read the actual values up to index t - h (NaN
    where that origin is before `first` or t - h + 1 lies past the end)."""
    stream = model.stream()
    ahead = np.full((horizons, len(values)), np.nan)
    y = None
    for t, value in enumerate(values):
        if t >= first:  # forecasts made before reading year t, for years t, t+1, ...
            ahead[0][t] = y[0]
            branch = copy.copy(stream)  # the main stream goes on untouched
            guess = y
            for h in range(1, horizons):
                if t + h >= len(values):
                    break
                guess = branch.step(guess)
                ahead[h][t + h] = guess[0]
            branch.close()
        y = stream.step(np.array([value], dtype=np.float32))
    return ahead


def errors(values, ahead, first):
    """(model MAE, naive MAE) per horizon over the years t >= first whose
    h-years-ahead forecast exists (origin t - h + 1 >= first)."""
    rows = []
    for h in range(1, ahead.shape[0] + 1):
        years = np.arange(first + h - 1, len(values))
        model = np.abs(ahead[h - 1][years] - values[years]).mean()
        naive = np.abs(values[years - h] - values[years]).mean()
        rows.append((h, len(years), model, naive))
    return rows


def plot(years, values, ahead, first, rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2]})
    shown = years >= years[first] - 20
    top.plot(years[shown], values[shown], "k-", lw=1.6, label="actual")
    top.plot(years[first:], ahead[0][first:], "o-", ms=3, label="1 year ahead")
    if ahead.shape[0] >= 5:
        top.plot(years[first + 4:], ahead[4][first + 4:], "s--", ms=3, label="5 years ahead (own forecasts fed back)")
    top.axvline(years[first] - 0.5, color="gray", ls=":", label="held out from here")
    top.set_ylabel("yearly mean sunspot number")
    top.set_title("Recur forecaster (LSTM 1→32, Dense 32→1) on the held-out years")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    h = [r[0] for r in rows]
    bottom.plot(h, [r[2] for r in rows], "o-", label="LSTM through Recur")
    bottom.plot(h, [r[3] for r in rows], "s--", label="naive: the last year seen")
    bottom.set_xlabel("years ahead")
    bottom.set_ylabel(f"mean absolute error, {years[first]}-{years[-1]}")
    bottom.set_xticks(h)
    bottom.legend()
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main(out=here / "forecast.png"):
    years, values = load_series()
    model = recur.Model(here / "sunspots.recur")
    first = int(np.searchsorted(years, HELD_OUT_FROM))
    ahead = forecasts(model, values, first)
    rows = errors(values, ahead, first)
    print(f"Held-out years {years[first]}-{years[-1]}: mean absolute error by horizon\n")
    print("| years ahead | forecasts | LSTM | naive | LSTM / naive |")
    print("| --- | --- | --- | --- | --- |")
    for h, n, m, naive in rows:
        print(f"| {h} | {n} | {m:.2f} | {naive:.2f} | {m / naive:.2f} |")
    plot(years, values, ahead, first, rows, out)
    print(f"\nwrote {out}")
    return rows


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:2]))
