"""What the converters share: their error, their verification report, and
running converted layers."""
import os

from . import writer


class ConversionError(ValueError):
    """A model cannot be converted; the message says why."""


# The verification budget of reduced weights (docs/quantization.md): the
# largest difference from the source accepted, as a share of the source's
# largest output magnitude over the check.
BUDGETS = {"bf16": 0.05, "int8": 0.10}


def tolerance_for(weights, tolerance, want):
    """The tolerance a check uses: `tolerance` for float32 weights; for
    reduced ones, at least their budget of the largest |want|."""
    import numpy as np
    if weights == "fp32":
        return tolerance
    if weights not in BUDGETS:
        raise ValueError(f"weights must be one of fp32, {', '.join(BUDGETS)}, not {weights!r}")
    return max(tolerance, BUDGETS[weights] * float(np.max(np.abs(np.asarray(want, np.float64)))))


def add_weights_argument(parser):
    parser.add_argument("--weights", choices=("fp32", "bf16", "int8"), default="fp32",
                        help="element type of the weight matrices in the file (default fp32; bf16 and int8 are "
                             "checked against their budgets: docs/quantization.md)")


class Report:
    """What a converter checked: `max_error` over `steps` steps against the
    source framework (None when not verified), `notes`, `output_order`
    ("input" or "reversed": the source gives its outputs in reversed time
    order, Recur in input order) and `weights`, the element type of the
    weight matrices the check ran (and the file gets)."""

    def __init__(self, notes, source, steps=None, max_error=None, tolerance=None, output_order="input",
                 weights="fp32"):
        self.notes, self.steps, self.max_error, self.tolerance = notes, steps, max_error, tolerance
        self.source, self.output_order, self.weights = source, output_order, weights
        tolerance_for(weights, 0, [0])  # an unknown type is refused before any work

    def compare(self, got, want, tolerance, steps=None):
        """Records the largest difference between Recur's outputs and the
        source's over `steps` steps (default: len(got)); ConversionError
        beyond `tolerance` (for reduced weights, beyond their budget)."""
        import numpy as np
        gap = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))
        tolerance = tolerance_for(self.weights, tolerance, want)
        self.steps, self.max_error, self.tolerance = steps or len(got), gap, tolerance
        if not gap <= tolerance:
            budget = "" if self.weights == "fp32" else \
                f", the {self.weights} budget: {BUDGETS[self.weights]:.0%} of the largest output; choose wider weights"
            raise ConversionError(f"Recur and {self.source} differ by {gap:.3g} over {self.steps} steps "
                                  f"(tolerance {tolerance:g}{budget})")

    def __str__(self):
        lines = [f"note: {n}" for n in self.notes]
        if self.max_error is None:
            lines.append("not verified")
        else:
            lines.append(f"verified against {self.source} over {self.steps} steps: max abs difference "
                         f"{self.max_error:.2g} (tolerance {self.tolerance:g})")
        return "\n".join(lines)


def run_layers(layers, xs, memory=None, weights="fp32"):
    """Recur's outputs for `layers` (their weight matrices stored as
    `weights`) over xs (steps, inputs) or token ids (steps,); `memory` maps
    attention layers' indices to their rows."""
    import tempfile
    from .runtime import Model
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "m.recur")
        writer.save(path, layers, weights=weights)
        model = Model(path)
        stream = model.stream()
        for layer, rows in (memory or {}).items():
            stream.set_memory(layer, rows)
        ys = stream.run_tokens(xs) if model.vocab_size else stream.run(xs)
        stream.close()
        model.close()
    return ys


def write(model_path, output, layers, report, kind):
    """The end of `recur convert`: the notes on stderr, the file, what is in
    it and how it was verified on stdout. Returns the exit status."""
    import sys
    for note in report.notes:
        print(f"recur convert: note: {note}", file=sys.stderr)
    size = writer.save(output, layers, producer=f"recur convert {os.path.basename(model_path)} ({kind})",
                       weights=report.weights)
    from .cli import info
    info(output, sys.stdout)
    verified = "not verified (--no-verify)" if report.max_error is None else \
        f"verified: within {report.max_error:.2g} of {report.source} over {report.steps} steps"
    kind = "" if report.weights == "fp32" else f" ({report.weights} weights)"
    print(f"{output}: {len(layers)} layers, {size} bytes{kind}; {verified}")
    return 0


def failed(model_path, exc):
    """A one-line refusal on stderr; the exit status."""
    import sys
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"recur convert: {model_path}: {text}", file=sys.stderr)
    return 1
