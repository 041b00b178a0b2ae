"""Trains the bundled forecaster: an LSTM that reads one year's sunspot
number and predicts the next year's, on the yearly series 1700-2008 shipped
by statsmodels (statsmodels.datasets.sunspots; public domain, from NOAA's
National Geophysical Data Center).

Writes, beside this file:
  sunspots.csv    year,sunspots (the data, with its provenance in a header)
  sunspots.recur  LSTM(1 -> 32) + Dense(32 -> 1), fitted on 1700-1908 with
                  early stopping on 1909-1948; 1949-2008 is held out and
                  never seen in training (`make demo` forecasts it).

The input standardisation and the output scaling are folded into the LSTM's
input weights and the Dense layer, so the model takes and gives raw sunspot
numbers. Needs torch and statsmodels (not needed to run the demo):

    .venv/bin/pip install statsmodels
    .venv/bin/python examples/forecast/train.py
"""
import sys
from pathlib import Path

import numpy as np
import torch

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
import recur  # noqa: E402

VALIDATE_FROM = 1909
HOLDOUT_FROM = 1949
HIDDEN = 32


def write_csv():
    import statsmodels.api as sm
    data = sm.datasets.sunspots.load_pandas().data
    with open(here / "sunspots.csv", "w") as f:
        f.write("# Yearly mean sunspot numbers 1700-2008, from statsmodels.datasets.sunspots\n")
        f.write("# (statsmodels 0.15; source: NOAA National Geophysical Data Center, public domain).\n")
        f.write("year,sunspots\n")
        for year, value in zip(data["YEAR"], data["SUNACTIVITY"]):
            f.write(f"{int(year)},{value:g}\n")
    return data["YEAR"].to_numpy().astype(int), data["SUNACTIVITY"].to_numpy().astype(np.float64)


class Forecaster(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(1, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.head(h)


def main():
    years, values = write_csv()
    train = values[years < HOLDOUT_FROM]
    mean, std = train.mean(), train.std()
    z = torch.tensor((values - mean) / std, dtype=torch.float32).reshape(-1, 1, 1)
    n_fit = int((years < VALIDATE_FROM).sum())
    target = values[1:]
    validate = (years[1:] >= VALIDATE_FROM) & (years[1:] < HOLDOUT_FROM)
    held = years[1:] >= HOLDOUT_FROM

    def forecast(m):
        with torch.no_grad():
            return m(z[:-1]).reshape(-1).numpy() * std + mean

    torch.manual_seed(0)
    model = Forecaster()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    best_mae, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(1500):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(z[: n_fit - 1]), z[1:n_fit])
        loss.backward()
        opt.step()
        mae = np.abs(forecast(model)[validate] - target[validate]).mean()
        if mae < best_mae:
            best_mae, best_epoch = mae, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    pred = forecast(model)
    mae = np.abs(pred[held] - target[held]).mean()
    naive = np.abs(values[:-1][held] - target[held]).mean()
    print(f"epoch {best_epoch}: validation MAE {best_mae:.2f}; held-out MAE {mae:.2f} "
          f"(naive last-value {naive:.2f})")

    # Fold the scaling into the weights: the file takes and gives raw numbers.
    w_ih = model.lstm.weight_ih_l0.detach().numpy().astype(np.float64)
    b_ih = model.lstm.bias_ih_l0.detach().numpy().astype(np.float64)
    lstm = recur.LSTM(w_ih / std, model.lstm.weight_hh_l0.detach().numpy(),
                      b_ih - w_ih[:, 0] * mean / std, model.lstm.bias_hh_l0.detach().numpy(), name="lstm")
    head = recur.Dense(model.head.weight.detach().numpy() * std,
                       model.head.bias.detach().numpy() * std + mean, "identity", name="forecast")
    recur.save(here / "sunspots.recur", [lstm, head], producer=f"examples/forecast/train.py (torch {torch.__version__})",
               metadata={"task": "one-step-ahead forecast of yearly sunspot numbers",
                         "fitted_on": f"1700-{VALIDATE_FROM - 1}",
                         "validated_on": f"{VALIDATE_FROM}-{HOLDOUT_FROM - 1}", "held_out": f"{HOLDOUT_FROM}-2008",
                         "heldout_mae": f"{mae:.3f}", "naive_mae": f"{naive:.3f}"})
    print(f"wrote {here / 'sunspots.recur'}")


if __name__ == "__main__":
    main()
