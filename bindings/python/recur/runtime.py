"""Running models: recur.Model and recur.Stream over librecur (ctypes)."""
import ctypes
import os

import numpy as np

from ._native import lib

_float_p = ctypes.POINTER(ctypes.c_float)


class RecurError(Exception):
    """A librecur call failed. `status` is the recur_status number, `name` its
    short text, `detail` the library's detail message."""

    def __init__(self, status, detail):
        self.status = status
        self.name = lib.recur_status_string(status).decode()
        self.detail = detail
        super().__init__(f"{self.name} ({status}): {detail}")


def _check(status):
    if status != 0:
        raise RecurError(status, lib.recur_last_error().decode(errors="replace"))


def version():
    """The linked library's version string."""
    return lib.recur_version().decode()


def _as_input(x, count, what):
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.size != count:
        raise ValueError(f"{what} has {arr.size} values, expected {count}")
    return arr


class Model:
    """An immutable model loaded from a .recur file (a path or bytes)."""

    def __init__(self, source):
        self._handle = None
        handle = ctypes.c_void_p()
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            _check(lib.recur_model_load_memory(data, len(data), ctypes.byref(handle)))
        else:
            _check(lib.recur_model_load_file(os.fsencode(source), ctypes.byref(handle)))
        self._handle = handle
        self.input_size = lib.recur_model_input_size(handle)
        self.output_size = lib.recur_model_output_size(handle)
        self.layer_count = lib.recur_model_layer_count(handle)
        self.vocab_size = lib.recur_model_vocab_size(handle)

    def state_size(self, layer):
        """(h floats, c floats) of layer `layer`'s state."""
        h, c = ctypes.c_size_t(), ctypes.c_size_t()
        _check(lib.recur_model_state_size(self._handle, layer, ctypes.byref(h), ctypes.byref(c)))
        return h.value, c.value

    def stream(self):
        """A new stream with zero state."""
        return Stream(self)

    def close(self):
        if self._handle:
            lib.recur_model_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __repr__(self):
        return f"recur.Model(input_size={self.input_size}, output_size={self.output_size})"


class Stream:
    """One sequence's state over a Model. Use from one thread at a time."""

    def __init__(self, model):
        self._handle = None
        if not model._handle:
            raise ValueError("model is closed")
        handle = ctypes.c_void_p()
        _check(lib.recur_stream_create(model._handle, ctypes.byref(handle)))
        self._model = model  # keeps the weights alive while the stream is used
        self._handle = handle
        self._x_count = model.input_size
        self._y_count = model.output_size
        self._reserved = 0

    def step(self, x):
        """One time step: x has input_size floats; returns output_size floats."""
        xa = _as_input(x, self._x_count, "x")
        y = np.empty(self._y_count, dtype=np.float32)
        _check(lib.recur_step(self._handle, xa.ctypes.data_as(_float_p), xa.size,
                              y.ctypes.data_as(_float_p), y.size))
        return y

    def _reserve(self, steps):
        # Models with reverse or bidirectional layers need sequence buffers;
        # reserving is a no-op for the others and when already large enough.
        if steps > self._reserved:
            _check(lib.recur_stream_reserve(self._handle, steps))
            self._reserved = steps

    def step_token(self, token):
        """One step of a token model; returns output_size floats."""
        y = np.empty(self._y_count, dtype=np.float32)
        _check(lib.recur_step_token(self._handle, int(token), y.ctypes.data_as(_float_p), y.size))
        return y

    def run_tokens(self, tokens):
        """Steps over a sequence of token ids; returns (steps, output_size)."""
        ta = np.ascontiguousarray(tokens, dtype=np.int32).reshape(-1)
        ys = np.empty((ta.size, self._y_count), dtype=np.float32)
        self._reserve(ta.size)
        _check(lib.recur_run_tokens(self._handle, ta.size, ta.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), ta.size,
                                    ys.ctypes.data_as(_float_p), ys.size))
        return ys

    def get_state(self, layer):
        """(h, c) of layer `layer` (c is None for layers without a cell state)."""
        hn, cn = self._model.state_size(layer)
        h, c = np.empty(hn, dtype=np.float32), np.empty(cn, dtype=np.float32)
        _check(lib.recur_stream_get_state(self._handle, layer, h.ctypes.data_as(_float_p), hn,
                                          c.ctypes.data_as(_float_p), cn))
        return h, (c if cn else None)

    def set_state(self, layer, h, c=None):
        """Sets layer `layer`'s h (and c for an LSTM; None keeps it)."""
        hn, cn = self._model.state_size(layer)
        ha = _as_input(h, hn, "h")
        ca = _as_input(c, cn, "c") if c is not None else None
        _check(lib.recur_stream_set_state(self._handle, layer, ha.ctypes.data_as(_float_p), hn,
                                          ca.ctypes.data_as(_float_p) if ca is not None else None,
                                          cn if ca is not None else 0))

    def run(self, xs):
        """Steps over xs of shape (steps, input_size); returns (steps, output_size)."""
        xa = np.ascontiguousarray(xs, dtype=np.float32)
        if xa.ndim == 1 and self._x_count == 1:
            xa = xa.reshape(-1, 1)
        if xa.ndim != 2 or xa.shape[1] != self._x_count:
            raise ValueError(f"xs has shape {xa.shape}, expected (steps, {self._x_count})")
        steps = xa.shape[0]
        ys = np.empty((steps, self._y_count), dtype=np.float32)
        self._reserve(steps)
        _check(lib.recur_run(self._handle, steps, xa.ctypes.data_as(_float_p), xa.size,
                             ys.ctypes.data_as(_float_p), ys.size))
        return ys

    def reset(self):
        """All state back to zero."""
        lib.recur_stream_reset(self._handle)

    def close(self):
        if self._handle:
            lib.recur_stream_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()
