"""Recur: run trained recurrent networks one step at a time.

    import recur
    recur.save("m.recur", [recur.LSTM(w_ih, w_hh, b_ih, b_hh), recur.Dense(w, b)])
    model = recur.Model("m.recur")
    stream = model.stream()
    y = stream.step(x)            # one step
    ys = stream.run(xs)           # (steps, input) -> (steps, output)
"""
from . import onnx_import  # noqa: F401  (needs onnx only when called)
from .writer import (LSTM, GRU, RNN, Dense, Embedding, Softmax, Function, save, dumps, to_message,
                     load_message, FORMAT_VERSION)

__all__ = ["LSTM", "GRU", "RNN", "Dense", "Embedding", "Softmax", "Function", "save", "dumps", "to_message", "load_message",
           "FORMAT_VERSION", "Model", "Stream", "RecurError", "version"]


def __getattr__(name):
    # The runtime needs librecur.so; the writer does not, so import it lazily.
    if name in ("Model", "Stream", "RecurError", "version"):
        from . import runtime
        return getattr(runtime, name)
    raise AttributeError(name)
