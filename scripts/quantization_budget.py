"""Measures what bf16 and int8 weights cost in accuracy (docs/quantization.md):
each model's file stored again with reduced weights (recur.writer.quantize),
run through Recur, against the same file with float32 weights.

- the fidelity fixtures (tests/fixtures, 1000 steps each) and the bundled
  models: max |output - float32 output| over 1000 steps;
- the forecaster: mean absolute error of the one-year-ahead forecast over
  the held-out years 1949-2008;
- the language model: bits per character on its 100,000 held-out characters;
- the translators: greedy exact match on the 2000 held-out numbers.

    .venv/bin/python scripts/quantization_budget.py      # prints the tables

tests/python/test_quantization.py checks each figure against the budget
documented for its type (BUDGETS below, the same in docs/quantization.md).
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
for example in ("forecast", "textgen", "translate"):
    sys.path.insert(0, str(ROOT / "examples" / example))
import recur  # noqa: E402

STEPS = 1000
TYPES = ("bf16", "int8")
# Documented budgets (docs/quantization.md): max abs output error over
# 1000 steps as a share of the float32 outputs' largest magnitude (the
# converters' verification budget, recur.conversion.BUDGETS); the change of
# the forecaster's mean absolute error (sunspots); the rise in bits per
# character; the fall in exact match.
BUDGETS = {"bf16": {"relative": 0.05, "mae": 0.5, "bpc": 0.01, "exact": 0.005},
           "int8": {"relative": 0.10, "mae": 0.5, "bpc": 0.02, "exact": 0.01}}
FIXTURES = sorted((ROOT / "tests" / "fixtures").glob("*.recur"))
BUNDLED = [ROOT / "examples" / "forecast" / "sunspots.recur", ROOT / "examples" / "textgen" / "kjv.recur",
           ROOT / "examples" / "translate" / "encoder-attention.recur",
           ROOT / "examples" / "translate" / "decoder-attention.recur"]


def reduced(path, weights):
    """The bytes of `path` with its weight matrices stored as `weights`."""
    message = recur.load_message(Path(path).read_bytes())
    return recur.writer.frame(recur.writer.quantize(message, weights).SerializeToString())


def inputs(model, path):
    """STEPS inputs for a model: the fixture's own, the held-out text for
    token models, else a fixed random sequence."""
    x = Path(str(path)[:-len(".recur")] + ".x.f32")
    if x.exists():
        return np.fromfile(x, dtype="<f4").reshape(-1, model.input_size)[:STEPS]
    rng = np.random.default_rng(0)
    if model.vocab_size:
        return rng.integers(0, model.vocab_size, size=STEPS).astype(np.int32)
    return rng.normal(0, 1, size=(STEPS, model.input_size)).astype(np.float32)


def outputs(model, xs):
    s = model.stream()
    if "attention" in [layer.kind for layer in model.layers]:
        width = [layer for layer in model.layers if layer.kind == "attention"][0].memory_size
        for i, layer in enumerate(model.layers):
            if layer.kind == "attention":
                s.set_memory(i, np.random.default_rng(1).normal(0, 0.5, size=(40, width)).astype(np.float32))
    return s.run_tokens(xs) if model.vocab_size else s.run(xs)


def output_error(path, weights):
    """(max abs error, that over the float32 outputs' largest magnitude)."""
    full = recur.Model(path)
    xs = inputs(full, path)
    want = outputs(full, xs)
    got = outputs(recur.Model(reduced(path, weights)), xs)
    err = float(np.abs(got - want).max())
    return err, err / float(np.abs(want).max())


def forecast_mae(data):
    import plot
    years, values = plot.load_series()
    first = int(np.searchsorted(years, plot.HELD_OUT_FROM))
    ahead = plot.forecasts(recur.Model(data), values, first, horizons=1)
    return plot.errors(values, ahead, first)[0][2]


def bits(data):
    import bits as textgen_bits
    text = (ROOT / "examples" / "textgen" / "kjv-heldout.txt").read_text()
    return textgen_bits.held_out_bits(recur.Model(data), text)


def exact(weights, tmp):
    import translate
    paths = []
    for name in ("encoder-attention", "decoder-attention"):
        path = Path(tmp) / f"{name}-{weights}.recur"
        source = ROOT / "examples" / "translate" / f"{name}.recur"
        path.write_bytes(source.read_bytes() if weights == "fp32" else reduced(source, weights))
        paths.append(path)
    return translate.evaluate(*paths, beam=1).exact


def applications(tmp):
    """{type: (forecast MAE, bits per character, exact match)} for fp32 and each reduced type."""
    out = {}
    for weights in ("fp32",) + TYPES:
        forecast = ROOT / "examples" / "forecast" / "sunspots.recur"
        lm = ROOT / "examples" / "textgen" / "kjv.recur"
        data = (lambda p: p.read_bytes()) if weights == "fp32" else (lambda p: reduced(p, weights))
        out[weights] = (forecast_mae(data(forecast)), bits(data(lm)), exact(weights, tmp))
    return out


def main():
    import tempfile
    print("| model | bf16: max abs error (relative) | int8: max abs error (relative) |")
    print("| --- | --- | --- |")
    for path in FIXTURES + BUNDLED:
        cells = [output_error(path, w) for w in TYPES]
        print(f"| {path.relative_to(ROOT)} | " + " | ".join(f"{e:.2g} ({r:.2%})" for e, r in cells) + " |")
    with tempfile.TemporaryDirectory() as tmp:
        apps = applications(tmp)
    print()
    print("| weights | forecast MAE, 1949-2008 | bits per character | translator exact match (greedy) |")
    print("| --- | --- | --- | --- |")
    for weights, (mae, bpc, match) in apps.items():
        print(f"| {weights} | {mae:.2f} | {bpc:.4f} | {match:.4f} |")


if __name__ == "__main__":
    main()
