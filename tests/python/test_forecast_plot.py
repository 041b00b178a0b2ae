"""examples/forecast/plot.py: the one-year-ahead errors it reports are the
model's recorded ones (the C demo's), the copies of the stream used for
longer horizons leave the main stream alone, the LSTM beats the naive
forecast at every horizon, and the picture is written."""
import importlib.util

import numpy as np

import recur
from conftest import ROOT

spec = importlib.util.spec_from_file_location("plot", ROOT / "examples" / "forecast" / "plot.py")
plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot)


def test_horizons_and_picture(tmp_path):
    rows = plot.main(tmp_path / "f.png")
    meta = recur.Model(ROOT / "examples" / "forecast" / "sunspots.recur").metadata
    h, n, mae, naive = rows[0]
    assert (h, n) == (1, 60)
    assert abs(mae - float(meta["heldout_mae"])) < 5e-3 and abs(naive - float(meta["naive_mae"])) < 5e-3
    assert len(rows) == plot.HORIZONS
    assert all(m < nv for _, _, m, nv in rows)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_branches_leave_the_main_stream_alone():
    years, values = plot.load_series()
    model = recur.Model(ROOT / "examples" / "forecast" / "sunspots.recur")
    first = int(np.searchsorted(years, plot.HELD_OUT_FROM))
    ahead = plot.forecasts(model, values, first)
    stream = model.stream()
    one = [stream.step(np.array([v], np.float32))[0] for v in values[:-1]]
    assert np.array_equal(ahead[0][first:], np.array(one)[first - 1:])
    # Two years ahead from origin t is the model fed its own one-year forecast.
    stream = model.stream()
    for v in values[:first]:
        y = stream.step(np.array([v], np.float32))
    assert ahead[1][first + 1] == stream.step(y)[0]
