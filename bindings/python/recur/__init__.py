"""Recur: run trained recurrent networks one step at a time.

    import recur
    recur.save("m.recur", [recur.LSTM(w_ih, w_hh, b_ih, b_hh), recur.Dense(w, b)])
    model = recur.Model("m.recur")
    stream = model.stream()
    y = stream.step(x)            # one step
    ys = stream.run(xs)           # (steps, input) -> (steps, output)
    saved = stream.snapshot()     # the whole state as bytes; stream.restore(saved)
"""
from . import onnx_import  # noqa: F401  (needs onnx only when called)
from .errors import (RecurError, InvalidArgumentError, SizeMismatchError, RecurIOError, BadFrameError,
                     BadEncodingError, BadModelError, UnsupportedVersionError, TooLargeError, OutOfMemoryError,
                     BadHandleError, BufferTooSmallError, UnsupportedError, OutOfRangeError, BadSnapshotError,
                     WrongModelError, StreamBusyError)
from .writer import (LSTM, GRU, RNN, Dense, Embedding, Softmax, Function, save, dumps, to_message,
                     load_message, FORMAT_VERSION)

__all__ = ["LSTM", "GRU", "RNN", "Dense", "Embedding", "Softmax", "Function", "save", "dumps", "to_message", "load_message",
           "FORMAT_VERSION", "Model", "Stream", "version", "isa", "__version__",
           "RecurError", "InvalidArgumentError", "SizeMismatchError", "RecurIOError", "BadFrameError",
           "BadEncodingError", "BadModelError", "UnsupportedVersionError", "TooLargeError", "OutOfMemoryError",
           "BadHandleError", "BufferTooSmallError", "UnsupportedError", "OutOfRangeError", "BadSnapshotError",
           "WrongModelError", "StreamBusyError"]

# The version of include/recur.h this package was written for
# (tests/python/test_contract.py checks it, pyproject.toml and the header agree).
__version__ = "0.3.0"


def __getattr__(name):
    # The runtime needs librecur.so; the writer does not, so import it lazily.
    if name in ("Model", "Stream", "version", "isa"):
        from . import runtime
        return getattr(runtime, name)
    raise AttributeError(name)
