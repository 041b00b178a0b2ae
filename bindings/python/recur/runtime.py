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

    def step(self, x):
        """One time step: x has input_size floats; returns output_size floats."""
        xa = _as_input(x, self._x_count, "x")
        y = np.empty(self._y_count, dtype=np.float32)
        _check(lib.recur_step(self._handle, xa.ctypes.data_as(_float_p), xa.size,
                              y.ctypes.data_as(_float_p), y.size))
        return y

    def run(self, xs):
        """Steps over xs of shape (steps, input_size); returns (steps, output_size)."""
        xa = np.ascontiguousarray(xs, dtype=np.float32)
        if xa.ndim == 1 and self._x_count == 1:
            xa = xa.reshape(-1, 1)
        if xa.ndim != 2 or xa.shape[1] != self._x_count:
            raise ValueError(f"xs has shape {xa.shape}, expected (steps, {self._x_count})")
        steps = xa.shape[0]
        ys = np.empty((steps, self._y_count), dtype=np.float32)
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
