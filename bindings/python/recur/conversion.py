"""What the converters share: their error, their verification report, and
running converted layers."""
import os

from . import writer


class ConversionError(ValueError):
    """A model cannot be converted; the message says why."""


class Report:
    """What a converter checked: `max_error` over `steps` steps against the
    source framework (None when not verified), `notes`, and `output_order`
    ("input" or "reversed": the source gives its outputs in reversed time
    order, Recur in input order)."""

    def __init__(self, notes, source, steps=None, max_error=None, tolerance=None, output_order="input"):
        self.notes, self.steps, self.max_error, self.tolerance = notes, steps, max_error, tolerance
        self.source, self.output_order = source, output_order

    def compare(self, got, want, tolerance, steps=None):
        """Records the largest difference between Recur's outputs and the
        source's over `steps` steps (default: len(got)); ConversionError
        beyond `tolerance`."""
        import numpy as np
        gap = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))
        self.steps, self.max_error, self.tolerance = steps or len(got), gap, tolerance
        if not gap <= tolerance:
            raise ConversionError(f"Recur and {self.source} differ by {gap:.3g} over {self.steps} steps "
                                  f"(tolerance {tolerance:g})")

    def __str__(self):
        lines = [f"note: {n}" for n in self.notes]
        if self.max_error is None:
            lines.append("not verified")
        else:
            lines.append(f"verified against {self.source} over {self.steps} steps: max abs difference "
                         f"{self.max_error:.2g} (tolerance {self.tolerance:g})")
        return "\n".join(lines)


def run_layers(layers, xs, memory=None):
    """Recur's outputs for `layers` over xs (steps, inputs) or token ids
    (steps,); `memory` maps attention layers' indices to their rows."""
    import tempfile
    from .runtime import Model
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "m.recur")
        writer.save(path, layers)
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
    size = writer.save(output, layers, producer=f"recur convert {os.path.basename(model_path)} ({kind})")
    from .cli import info
    info(output, sys.stdout)
    verified = "not verified (--no-verify)" if report.max_error is None else \
        f"verified: within {report.max_error:.2g} of {report.source} over {report.steps} steps"
    print(f"{output}: {len(layers)} layers, {size} bytes; {verified}")
    return 0


def failed(model_path, exc):
    """A one-line refusal on stderr; the exit status."""
    import sys
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"recur convert: {model_path}: {text}", file=sys.stderr)
    return 1
