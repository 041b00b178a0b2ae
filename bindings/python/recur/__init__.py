"""Recur: run trained recurrent networks one step at a time.

    import recur
    recur.save("m.recur", [recur.LSTM(w_ih, w_hh, b_ih, b_hh), recur.Dense(w, b)])
    model = recur.Model("m.recur")
    stream = model.stream()
    y = stream.step(x)            # one step
    ys = stream.run(xs)           # (steps, input) -> (steps, output)
    saved = stream.snapshot()     # the whole state as bytes; stream.restore(saved)
"""
# `import recur` needs only numpy: the runtime loads librecur on first use,
# the writer (protobuf, lz4) and the ONNX converter (onnx) when first named.
from .errors import (RecurError, InvalidArgumentError, SizeMismatchError, RecurIOError, BadFrameError,
                     BadEncodingError, BadModelError, UnsupportedVersionError, TooLargeError, OutOfMemoryError,
                     BadHandleError, BufferTooSmallError, UnsupportedError, OutOfRangeError, BadSnapshotError,
                     WrongModelError, NoMemorySetError, StreamBusyError)

_WRITER = ("LSTM", "GRU", "RNN", "Dense", "Embedding", "Softmax", "Attention", "Function", "save", "dumps", "to_message",
           "load_message", "FORMAT_VERSION")
_RUNTIME = ("Model", "Stream", "Layer", "version", "isa")

__all__ = [*_WRITER, *_RUNTIME, "example", "from_keras", "from_torch", "__version__",
           "RecurError", "InvalidArgumentError", "SizeMismatchError", "RecurIOError", "BadFrameError",
           "BadEncodingError", "BadModelError", "UnsupportedVersionError", "TooLargeError", "OutOfMemoryError",
           "BadHandleError", "BufferTooSmallError", "UnsupportedError", "OutOfRangeError", "BadSnapshotError",
           "WrongModelError", "NoMemorySetError", "StreamBusyError"]

# The version of include/recur.h this package was written for
# (tests/python/test_contract.py checks it, pyproject.toml and the header agree).
__version__ = "0.6.0"


def __getattr__(name):
    import importlib
    if name in _RUNTIME:
        return getattr(importlib.import_module(".runtime", __name__), name)
    if name in _WRITER:
        return getattr(importlib.import_module(".writer", __name__), name)
    if name == "from_keras":
        return importlib.import_module(".keras_import", __name__).from_keras
    if name == "from_torch":
        return importlib.import_module(".torch_import", __name__).from_torch
    if name in ("writer", "onnx_import", "rtneural_import", "keras_import", "torch_import", "conversion", "runtime",
                "recur_pb2", "cli"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'recur' has no attribute {name!r}")


_EXAMPLES = {"sunspots": ("forecast", "sunspots.recur")}


def example(name):
    """The path of a bundled model: "sunspots" (the forecaster of
    examples/forecast). Installed packages carry it; a source checkout
    finds it in examples/."""
    from pathlib import Path
    if name not in _EXAMPLES:
        raise ValueError(f"recur.example: no bundled model {name!r}; there is {', '.join(map(repr, _EXAMPLES))}")
    folder, file = _EXAMPLES[name]
    packaged = Path(__file__).resolve().parent / "data" / file
    if packaged.exists():
        return str(packaged)
    return str(Path(__file__).resolve().parents[3] / "examples" / folder / file)
