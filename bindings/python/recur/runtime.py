"""Running models: recur.Model and recur.Stream over librecur (ctypes).

Lifetimes follow the C library's: closing a Model ends its handle, and the
weights stay until its last Stream is closed, so close() and finalizers may
run in any order. Every argument is checked here, in Python terms, before
it is narrowed to a C type."""
import collections
import ctypes
import operator
import os
import re
import threading
import weakref

import numpy as np

from . import errors
from ._native import LayerInfo, LoadOptions, lib
from .errors import BadHandleError, OutOfRangeError, SizeMismatchError, StreamBusyError, UnsupportedError

_float_p = ctypes.POINTER(ctypes.c_float)
_F32 = np.dtype(np.float32)
_CF = ctypes.c_float


def _fast(name, argtypes):
    """A second ctypes handle on a library function, for the per-step calls:
    arrays go in as c_float views of their buffers (ctypes passes their
    address), much cheaper than ndarray.ctypes."""
    fn = lib._FuncPtr((name, lib))
    fn.restype = ctypes.c_int
    fn.argtypes = argtypes
    return fn


# recur_step without argtypes, for Stream.step: ctypes converts no argument
# (each is already a ctypes object of the C type: c_void_p, arrays of
# c_float, which go in as pointers, c_size_t), a quarter of the call's cost.
_step_bare = lib._FuncPtr(("recur_step", lib))
_step_bare.restype = ctypes.c_int
_step_token = _fast("recur_step_token", [ctypes.c_void_p, ctypes.c_int32, _float_p, ctypes.c_size_t])
_int32_p = ctypes.POINTER(ctypes.c_int32)
_BUFFER_TOO_SMALL = errors.BufferTooSmallError.status

# C names in the library's detail messages, as a Python user knows them.
_PYTHON_NAMES = {
    "recur_model_load_file": "Model", "recur_model_load_memory": "Model",
    "recur_model_load_file_ex": "Model", "recur_model_load_memory_ex": "Model",
    "recur_model_state_size": "Model.state_size", "recur_stream_create": "Model.stream",
    "recur_step": "Stream.step", "recur_run": "Stream.run", "recur_step_token": "Stream.step_token",
    "recur_run_tokens": "Stream.run_tokens", "recur_stream_get_state": "Stream.get_state",
    "recur_stream_set_state": "Stream.set_state", "recur_stream_reserve": "Stream.run",
    "recur_stream_snapshot": "Stream.snapshot", "recur_stream_restore": "Stream.restore",
    "recur_step_streams": "Model.step_streams", "recur_step_streams_tokens": "Model.step_streams_tokens",
    "recur_stream_set_memory": "Stream.set_memory", "recur_stream_reserve_memory": "Stream.set_memory",
}
_C_NAME = re.compile(r"\brecur_[a-z_]+\b")


def _raise(status, filename=None):
    detail = lib.recur_last_error().decode(errors="replace")
    detail = _C_NAME.sub(lambda m: _PYTHON_NAMES.get(m.group(0), m.group(0)), detail)
    raise errors.error(status, detail, filename)


def version():
    """The linked library's version string."""
    return lib.recur_version().decode()


def isa():
    """The instruction-set tier this process steps with: "avx512", "avx2" or
    "baseline" (chosen once, from the CPU; RECUR_ISA can lower it)."""
    return lib.recur_isa().decode()


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _integer(value, what, where):
    """`value` as a Python int; TypeError for anything that is not an integer."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{where}: {what} must be an integer, not {_shown(value)}")
    return operator.index(value)


def _index(value, what, count, where):
    """An index in [0, count), range-checked before any narrowing."""
    i = _integer(value, what, where)
    if not 0 <= i < count:
        raise OutOfRangeError(f"{where}: {what} {i} is not below the {what} count {count}"
                              if i >= 0 else f"{where}: {what} {i} is negative")
    return i


def _floats(value, what, where):
    """`value` as a C-contiguous float32 array; TypeError for non-numbers."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.flags.c_contiguous:
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        kind = "values" if arr is None else f"{arr.dtype} values"
        raise TypeError(f"{where}: {what} must be real numbers, got {kind}: {_shown(value)}")
    return np.ascontiguousarray(arr, dtype=np.float32)


class _Closable:
    """close() on leaving a `with` block and on collection, in any order."""

    _handle = None

    @property
    def closed(self):
        return self._handle is None

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass


_LIMITS = [name for name, _ in LoadOptions._fields_ if name.startswith("max_")]
_STORAGE = ("auto", "narrow", "fp32")  # recur_weight_storage


def _options(limits):
    """recur_load_options with the given limits (keyword name = field name)
    and weight_storage ("auto", "narrow" or "fp32")."""
    options = lib.recur_load_options_default()
    for name, value in limits.items():
        if name == "weight_storage":
            if not isinstance(value, str) or value not in _STORAGE:
                raise ValueError(f"Model: weight_storage must be one of {', '.join(map(repr, _STORAGE))}, not {value!r}")
            options.weight_storage = _STORAGE.index(value)
            continue
        if name not in _LIMITS:
            raise TypeError(f"Model: unknown option {name!r}; the limits are {', '.join(_LIMITS)}, "
                            "and the other option is weight_storage")
        n = _integer(value, name, "Model")
        if n <= 0:
            raise ValueError(f"Model: {name} must be positive, not {n}")
        setattr(options, name, min(n, 2**64 - 1))
    return options


_KINDS = ("lstm", "gru", "rnn", "dense", "embedding", "softmax", "attention")
_SCORES = ("dot", "general", "additive")  # recur_attention_score
_ELEMENT_TYPES = {1: "fp32", 3: "bf16", 4: "int8"}  # recur_layer_info.element_type: how the file stores the weights
_DIRECTIONS = ("forward", "reverse", "bidirectional")
_OPTIONS = ("bias", "initial_state", "clip", "peephole", "coupled", "cell_clip", "projection", "proj_clip",
            "layer_norm", "reset_before", "peephole_matrix",
            "output_peephole_previous")  # bit k of recur_layer_info.options is _OPTIONS[k]

_FUNCTIONS = ("identity", "sigmoid", "tanh", "relu", "affine", "leaky_relu", "thresholded_relu", "scaled_tanh",
              "hard_sigmoid", "elu", "softsign", "softplus")  # recur_function
_PARAMETERS = {"affine": "ab", "leaky_relu": "a", "thresholded_relu": "a", "scaled_tanh": "ab", "hard_sigmoid": "ab",
               "elu": "a"}  # which of alpha, beta each function uses

Layer = collections.namedtuple("Layer", "kind direction name input_size output_size hidden_size proj_size "
                                        "vocab_size parameters options functions memory_size score units scale "
                                        "weights storage", defaults=(0, None, 0, None, "fp32", "fp32"))
Layer.__doc__ = """One layer as the file describes it (recur_model_layer_info): kind
("lstm", "gru", "rnn", "dense", "embedding", "softmax"), direction
("forward", "reverse", "bidirectional"; None for other layers), name, sizes,
parameters (floats in the file) and options (a frozenset of "bias",
"initial_state", "clip", "peephole", "coupled", "cell_clip", "projection",
"proj_clip", "layer_norm", "reset_before", "peephole_matrix",
"output_peephole_previous"), and functions: a cell's f, g, h
(as many as it uses) or a dense layer's activation, as text such as
"sigmoid" or "leaky_relu(alpha=0.1)". Attention layers add memory_size,
score, units and scale. weights is how the file stores the weight
matrices ("fp32", "bf16", "int8"); storage how the loaded model keeps
them (narrow, or "fp32" when widened at load: Model's weight_storage)."""


def _function(kind, alpha, beta):
    name = _FUNCTIONS[kind] if 0 <= kind < len(_FUNCTIONS) else f"function {kind}"
    uses = _PARAMETERS.get(name, "")
    args = [f"alpha={alpha:g}"] * ("a" in uses) + [f"beta={beta:g}"] * ("b" in uses)
    return f"{name}({', '.join(args)})" if args else name


def _layers(handle, count):
    out = []
    for index in range(count):
        info = LayerInfo(struct_size=ctypes.sizeof(LayerInfo))
        status = lib.recur_model_layer_info(handle, index, ctypes.byref(info))
        if status:
            _raise(status)
        kind = _KINDS[info.kind] if 0 <= info.kind < len(_KINDS) else f"kind {info.kind}"
        recurrent = kind in ("lstm", "gru", "rnn")
        attention = kind == "attention"
        out.append(Layer(kind, _DIRECTIONS[info.direction] if recurrent else None,
                         info.name.decode(errors="replace"), info.input_size, info.output_size, info.hidden_size,
                         info.proj_size, info.vocab_size, info.parameters,
                         frozenset(name for bit, name in enumerate(_OPTIONS) if info.options >> bit & 1),
                         tuple(_function(info.functions[k], info.alpha[k], info.beta[k])
                               for k in range(min(info.function_count, 3))),
                         info.memory_size, _SCORES[info.score] if attention and 0 <= info.score < 3 else None,
                         info.units, info.scale if attention else None,
                         _ELEMENT_TYPES.get(info.element_type, f"type {info.element_type}"),
                         _ELEMENT_TYPES.get(info.storage_type, f"type {info.storage_type}")))
    return tuple(out)


def _metadata(handle):
    entries = {}
    for index in range(lib.recur_model_metadata_count(handle)):
        key, value = ctypes.c_char_p(), ctypes.c_char_p()
        status = lib.recur_model_metadata(handle, index, ctypes.byref(key), ctypes.byref(value))
        if status:
            _raise(status)
        entries[key.value.decode(errors="replace")] = value.value.decode(errors="replace")
    return entries


class Model(_Closable):
    """An immutable model loaded from a .recur file (a path or bytes). Any
    number of threads may use one Model; close() (or the end of a `with`
    block) ends it here, and its weights go with its last Stream.

    Keyword arguments lower or raise the load's limits, named as the fields
    of recur_load_options: max_file_bytes, max_content_bytes,
    max_model_bytes, max_stream_bytes, max_layers, max_dimension,
    max_metadata_entries, max_metadata_bytes, max_name_bytes; and
    weight_storage says how bf16 and int8 weight matrices are kept: "auto"
    (narrow where that is faster: large layers), "narrow" (wherever a kernel
    exists: the least memory) or "fp32" (widened at load); see
    docs/quantization.md.

    A Model pickles as where it came from: the file's absolute path (the
    file is loaded again when unpickled, and a live Model of the same path
    and limits in the unpickling process is shared), or the bytes it was
    loaded from (kept by the Model for this). copy.copy and deepcopy give
    the same Model: it is immutable."""

    def __init__(self, source, **limits):
        self._handle = None
        handle = ctypes.c_void_p()
        options = ctypes.byref(_options(limits)) if limits else None
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            status = lib.recur_model_load_memory_ex(data, len(data), options, ctypes.byref(handle))
            filename = None
            self._source = data
        elif isinstance(source, (str, os.PathLike)):
            filename = os.fspath(source)
            path = os.fsencode(source)
            if b"\0" in path:
                raise ValueError(f"Model: the path {_shown(filename)} contains a NUL byte")
            status = lib.recur_model_load_file_ex(path, options, ctypes.byref(handle))
            self._source = os.path.abspath(filename)
        else:
            raise TypeError(f"Model: source must be a path or bytes, not {type(source).__name__} {_shown(source)}")
        if status:
            _raise(status, filename)
        self._limits = dict(limits)
        self._handle = handle.value
        self.snapshot_size = lib.recur_stream_snapshot_size(self._handle)
        self.input_size = lib.recur_model_input_size(self._handle)
        self.output_size = lib.recur_model_output_size(self._handle)
        self.layer_count = lib.recur_model_layer_count(self._handle)
        self.vocab_size = lib.recur_model_vocab_size(self._handle)
        self.layers = _layers(self._handle, self.layer_count)
        self.metadata = _metadata(self._handle)
        self.producer = lib.recur_model_producer(self._handle).decode(errors="replace")
        # Kept for the streams, which outlive a closed model.
        self._state_sizes = []
        for layer in range(self.layer_count):
            h, c = ctypes.c_size_t(), ctypes.c_size_t()
            lib.recur_model_state_size(self._handle, layer, ctypes.byref(h), ctypes.byref(c))
            self._state_sizes.append((h.value, c.value))

    def _live(self, where):
        handle = self._handle
        if handle is None:
            raise BadHandleError(f"{where}: the model is closed")
        return handle

    def state_size(self, layer):
        """(h floats, c floats) of layer `layer`'s state."""
        self._live("Model.state_size")
        return self._state_sizes[_index(layer, "layer", self.layer_count, "Model.state_size")]

    def stream(self):
        """A new stream, its state as the file gives it (initial state or zero)."""
        return Stream(self)

    def step_streams(self, streams, xs, out=None):
        """One step of each stream in `streams` (distinct Streams of this
        Model) together, reading the weights once for all of them: row k of
        xs (shape (n, input_size)) goes to streams[k], row k of the result
        (n, output_size; `out` if given) comes from it. Each stream gets
        exactly what its own step() would give."""
        where = "Model.step_streams"
        handle = self._live(where)
        if self.vocab_size:
            raise UnsupportedError(f"{where}: the model takes tokens (its first layer is an embedding); "
                                   "use step_streams_tokens")
        xa = _floats(xs, "xs", where)
        n = self._stream_count(streams, where)
        if xa.ndim == 1 and self.input_size == 1 and xa.size == n:
            xa = xa.reshape(-1, 1)
        if xa.shape != (n, self.input_size):
            raise SizeMismatchError(f"{where}: xs has shape {xa.shape}, expected ({n}, {self.input_size}) "
                                    f"for {n} streams")
        return self._many(streams, n, out, where, lambda handles, ys: lib.recur_step_streams(
            handle, handles, n, xa.ctypes.data_as(_float_p), xa.size, ys.ctypes.data_as(_float_p), ys.size))

    def step_streams_tokens(self, streams, tokens, out=None):
        """step_streams for a token model: streams[k] steps on tokens[k]."""
        where = "Model.step_streams_tokens"
        handle = self._live(where)
        if not self.vocab_size:
            raise UnsupportedError(f"{where}: the model takes vectors, not tokens (its first layer is not an "
                                   "embedding); use step_streams")
        n = self._stream_count(streams, where)
        try:
            arr = np.asarray(tokens)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: tokens must be integers, got {_shown(tokens)}") from None
        if arr.dtype == object:
            arr = np.array([_integer(v, "token", where) for v in arr.reshape(-1)], dtype=object)
        elif arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: tokens must be integers, got {arr.dtype} values: {_shown(tokens)}")
        if arr.shape != (n,):
            raise SizeMismatchError(f"{where}: tokens has shape {arr.shape}, expected ({n},) for {n} streams")
        outside = [i for i, v in enumerate(arr.tolist()) if not 0 <= v < self.vocab_size]
        if outside:
            raise OutOfRangeError(f"{where}: token {arr[outside[0]]} of streams[{outside[0]}] is outside the "
                                  f"vocabulary [0, {self.vocab_size})")
        ids = np.ascontiguousarray(arr, dtype=np.int32)
        return self._many(streams, n, out, where, lambda handles, ys: lib.recur_step_streams_tokens(
            handle, handles, n, ids.ctypes.data_as(_int32_p), n, ys.ctypes.data_as(_float_p), ys.size))

    @staticmethod
    def _stream_count(streams, where):
        try:
            return len(streams)
        except TypeError:
            raise TypeError(f"{where}: streams must be a sequence of recur.Stream, not "
                            f"{type(streams).__name__}") from None

    def _many(self, streams, n, out, where, call):
        """Holds every stream (StreamBusyError if another thread has one),
        checks they are distinct open Streams of this Model, then calls."""
        streams = list(streams)
        seen = {}
        for k, s in enumerate(streams):
            if not isinstance(s, Stream):
                raise TypeError(f"{where}: streams[{k}] must be a recur.Stream, not {type(s).__name__}")
            if s._model is not self:
                raise errors.InvalidArgumentError(f"{where}: streams[{k}] was created from another model")
            if id(s) in seen:
                raise errors.InvalidArgumentError(f"{where}: streams[{seen[id(s)]}] and streams[{k}] are the "
                                                  "same stream")
            seen[id(s)] = k
        if out is None:
            ys = np.empty((n, self.output_size), dtype=np.float32)
        else:
            if not (type(out) is np.ndarray and out.dtype is _F32 and out.flags.c_contiguous and out.flags.writeable):
                raise TypeError(f"{where}: out must be a writable C-contiguous float32 numpy array, got {_shown(out)}")
            if out.size != n * self.output_size:
                raise SizeMismatchError(f"{where}: out has {out.size} values, {n} streams give "
                                        f"{n * self.output_size}")
            ys = out
        held = []
        try:
            handles = (ctypes.c_void_p * max(n, 1))()
            for k, s in enumerate(streams):
                handles[k] = s._enter(f"{where}: streams[{k}]")
                held.append(s)
            status = call(handles, ys)
            if status:
                _raise(status)
            return ys
        finally:
            for s in held:
                s._busy.release()

    def close(self):
        """Ends this Model; streams made from it keep working. Idempotent."""
        handle, self._handle = self._handle, None
        if handle is not None:
            lib.recur_model_free(handle)

    def __enter__(self):
        self._live("Model")
        return self

    # An immutable model is shared, never duplicated.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return _model_from, (self._source, self._limits)

    def __repr__(self):
        def one(layer):
            sizes = f"{layer.input_size}\u2192{layer.output_size}"
            name = f" '{layer.name}'" if layer.name else ""
            extra = "" if layer.direction in (None, "forward") else f" {layer.direction}"
            return f"{layer.kind}{name}({sizes}{extra})"
        chain = " \u2192 ".join(one(layer) for layer in self.layers)
        parameters = sum(layer.parameters for layer in self.layers)
        closed = ", closed" if self._handle is None else ""
        return f"<recur.Model {chain}, {parameters:,} parameters{closed}>"


# Unpickled Models, by source and limits: streams unpickled one by one share one.
_unpickled = weakref.WeakValueDictionary()


def _model_from(source, limits, fresh=False):
    """A Model for `source` (a path or bytes) and `limits`, for unpickling."""
    key = (source, tuple(sorted(limits.items()))) if isinstance(source, str) else None
    model = None if key is None or fresh else _unpickled.get(key)
    if model is None or model.closed:
        model = Model(source, **limits)
        if key is not None:
            _unpickled[key] = model
    return model


def _snapshot_memory_rows(data, model):
    """The most memory rows any attention layer holds in snapshot bytes
    (docs/format.md, "Stream snapshots"), or 0 when they cannot be read:
    restore then reports what is wrong with them."""
    import struct
    rows, at = 0, 32
    while at + 16 <= len(data) - 4:
        tag, layer, floats = struct.unpack_from("<IIQ", data, at)
        if tag == 3 and layer < model.layer_count and model.layers[layer].kind == "attention":
            rows = max(rows, floats // max(1, model.layers[layer].memory_size))
        if floats > len(data):
            break
        at += 16 + 4 * floats
    return rows


def _stream_from(model, snapshot):
    """A Stream of `model` in the state `snapshot` holds, for unpickling. If
    the file changed since this process loaded it, it is loaded afresh."""
    stream = Stream(model)
    try:
        stream.restore(snapshot)
    except errors.WrongModelError:
        if not isinstance(model._source, str):
            raise
        stream.close()
        stream = Stream(_model_from(model._source, model._limits, fresh=True))
        stream.restore(snapshot)
    return stream


class Stream(_Closable):
    """One sequence's state over a Model. A stream serves one thread at a
    time: a call made while another thread is inside one raises
    StreamBusyError instead of corrupting the state.

    snapshot() gives the whole state as bytes (a documented, checked format:
    docs/format.md) and restore() takes it back, into this or any stream of
    the same model file, in this process or another. copy.copy and deepcopy
    give a new stream of the same Model in the same state; a pickled Stream
    holds its Model (as the Model pickles: a path or bytes) and a snapshot."""

    def __init__(self, model):
        self._handle = None
        if not isinstance(model, Model):
            raise TypeError(f"Stream: model must be a recur.Model, not {type(model).__name__}")
        handle = ctypes.c_void_p()
        status = lib.recur_stream_create(model._live("Model.stream"), ctypes.byref(handle))
        if status:
            _raise(status)
        self._handle = handle.value
        self._model = model
        self._busy = threading.Lock()
        self._x_count = model.input_size
        self._y_count = model.output_size
        self._vocab = model.vocab_size
        self._snapshot_size = model.snapshot_size
        self._reserved = 0
        self._memory_rows = 0  # rows of attention memory reserved
        self._attention = frozenset(i for i, layer in enumerate(model.layers) if layer.kind == "attention")
        # Stream.step's fast path: the last x and out arrays and views of their
        # buffers, and its other arguments as ctypes objects (_step_bare).
        self._x_array = self._x_view = self._y_array = self._y_view = None
        self._x_type, self._y_type = _CF * self._x_count, _CF * self._y_count
        self._c_handle = ctypes.c_void_p(self._handle)
        self._c_x_count, self._c_y_count = ctypes.c_size_t(self._x_count), ctypes.c_size_t(self._y_count)

    # Every call holds _busy; a second thread gets StreamBusyError.
    def _enter(self, where):
        if not self._busy.acquire(blocking=False):
            raise StreamBusyError(f"{where}: the stream is in use by another thread; a stream serves one thread "
                                  "at a time (make one stream per thread)")
        handle = self._handle
        if handle is None:
            self._busy.release()
            raise BadHandleError(f"{where}: the stream is closed")
        return handle

    def _takes(self, tokens, where):
        if tokens and not self._vocab:
            raise UnsupportedError(f"{where}: the model takes vectors, not tokens (its first layer is not an "
                                   "embedding); use step or run")
        if not tokens and self._vocab:
            raise UnsupportedError(f"{where}: the model takes tokens (its first layer is an embedding); "
                                   "use step_token or run_tokens")

    def step(self, x, out=None):
        """One time step: x has input_size floats; returns output_size
        floats, in `out` if given (a float32 array of output_size, written
        in place and returned: no allocation per step).

        The fastest call passes the same float32 arrays each time (fill x in
        place, pass out=): the stream then keeps a view of each, which also
        keeps numpy from reallocating them, until other arrays are passed."""
        if not self._busy.acquire(False):
            self._enter("Stream.step")  # StreamBusyError (or the lock, if it was just freed)
        handle = self._handle
        if handle is None or self._vocab:
            self._busy.release()
            self._enter("Stream.step")  # BadHandleError when closed
            self._busy.release()
            self._takes(False, "Stream.step")  # UnsupportedError for a token model
        try:
            # x: the view of the last x when it is the same array; else a
            # float32 ndarray of the right size gives its buffer directly
            # (from_buffer refuses one not C-contiguous or not writable);
            # anything else is converted.
            if x is self._x_array and x.dtype is _F32 and x.size == self._x_count:
                xb = self._x_view
            else:
                try:
                    if type(x) is not np.ndarray or x.dtype is not _F32 or x.size != self._x_count:
                        raise TypeError
                    xb = self._x_type.from_buffer(x)
                    self._x_array, self._x_view = x, xb
                except (TypeError, ValueError, BufferError):
                    xb = self._x_type.from_buffer(self._vector(x))
            if out is None:
                yb = self._y_type()
                y = np.frombuffer(yb, _F32)
            elif out is self._y_array and out.dtype is _F32 and out.size == self._y_count:
                y, yb = out, self._y_view
            else:
                y = self._out(out)
                yb = self._y_type.from_buffer(y)
                self._y_array, self._y_view = y, yb
            status = _step_bare(self._c_handle, xb, self._c_x_count, yb, self._c_y_count)
            if status:
                _raise(status)
            return y
        finally:
            self._busy.release()

    def _vector(self, x):
        """x as a fresh, writable float32 copy of input_size values (the slow path)."""
        xa = np.array(_floats(x, "x", "Stream.step"), dtype=_F32, copy=True)
        if xa.size != self._x_count:
            raise SizeMismatchError(f"Stream.step: x has {xa.size} values, the model takes {self._x_count}")
        return xa.reshape(-1)

    def _out(self, out):
        """`out` checked: a writable C-contiguous float32 ndarray of output_size."""
        if not (type(out) is np.ndarray and out.dtype is _F32 and out.flags.c_contiguous and out.flags.writeable):
            raise TypeError(f"Stream: out must be a writable C-contiguous float32 numpy array, got {_shown(out)}")
        if out.size != self._y_count:
            raise SizeMismatchError(f"Stream: out has {out.size} values, the model gives {self._y_count}")
        return out

    def run(self, xs):
        """Steps over xs of shape (steps, input_size); returns (steps, output_size).
        Models with reverse or bidirectional layers run only this way."""
        handle = self._enter("Stream.run")
        try:
            self._takes(False, "Stream.run")
            xa = _floats(xs, "xs", "Stream.run")
            if xa.ndim == 1 and self._x_count == 1:
                xa = xa.reshape(-1, 1)
            if xa.ndim != 2 or xa.shape[1] != self._x_count:
                raise SizeMismatchError(f"Stream.run: xs has shape {xa.shape}, expected (steps, {self._x_count})")
            steps = xa.shape[0]
            ys = np.empty((steps, self._y_count), dtype=np.float32)
            self._sequence(steps, lambda: lib.recur_run(handle, steps, xa.ctypes.data_as(_float_p), xa.size,
                                                        ys.ctypes.data_as(_float_p), ys.size))
            return ys
        finally:
            self._busy.release()

    def _sequence(self, steps, call):
        # Only models with reverse or bidirectional layers need sequence
        # buffers; the library says so (BUFFER_TOO_SMALL) before it touches
        # anything, and reserving then makes the same call succeed.
        status = call()
        if status == _BUFFER_TOO_SMALL and steps > self._reserved:
            status = lib.recur_stream_reserve(self._handle, steps)
            if status:
                _raise(status)
            self._reserved = steps
            status = call()
        if status:
            _raise(status)

    def step_token(self, token, out=None):
        """One step of a token model; returns output_size floats (in `out`
        if given, as for step)."""
        handle = self._enter("Stream.step_token")
        try:
            self._takes(True, "Stream.step_token")
            t = token if type(token) is int else _integer(token, "token", "Stream.step_token")
            if not 0 <= t < self._vocab:
                raise OutOfRangeError(f"Stream.step_token: token {t} is outside the vocabulary [0, {self._vocab})")
            y = np.empty(self._y_count, _F32) if out is None else self._out(out)
            status = _step_token(handle, t, _CF.from_buffer(y), self._y_count)
            if status:
                _raise(status)
            return y
        finally:
            self._busy.release()

    def run_tokens(self, tokens):
        """Steps over a sequence of token ids; returns (steps, output_size)."""
        handle = self._enter("Stream.run_tokens")
        try:
            self._takes(True, "Stream.run_tokens")
            ids = self._token_ids(tokens)
            steps = ids.size
            ys = np.empty((steps, self._y_count), dtype=np.float32)
            self._sequence(steps, lambda: lib.recur_run_tokens(handle, steps, ids.ctypes.data_as(_int32_p), steps,
                                                               ys.ctypes.data_as(_float_p), ys.size))
            return ys
        finally:
            self._busy.release()

    def _token_ids(self, tokens):
        where, vocab = "Stream.run_tokens", self._vocab
        try:
            arr = np.asarray(tokens).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: tokens must be integers, got {_shown(tokens)}") from None
        if arr.dtype == object:  # Python ints, some beyond any numpy type
            ids = [_integer(v, "token", where) for v in arr]
            bad = next(((i, v) for i, v in enumerate(ids) if not 0 <= v < vocab), None)
        elif arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: tokens must be integers, got {arr.dtype} values: {_shown(tokens)}")
        else:
            ids = arr
            outside = np.flatnonzero((arr < 0) | (arr >= vocab))
            bad = (int(outside[0]), int(arr[outside[0]])) if outside.size else None
        if bad:
            raise OutOfRangeError(f"{where}: token {bad[1]} at position {bad[0]} is outside the vocabulary [0, {vocab})")
        return np.ascontiguousarray(ids, dtype=np.int32)

    def get_state(self, layer):
        """(h, c) of layer `layer` (c is None for layers without a cell state).
        For a layer that runs backwards: its state after the last run."""
        handle = self._enter("Stream.get_state")
        try:
            layer = _index(layer, "layer", self._model.layer_count, "Stream.get_state")
            hn, cn = self._model._state_sizes[layer]
            h, c = np.empty(hn, dtype=np.float32), np.empty(cn, dtype=np.float32)
            status = lib.recur_stream_get_state(handle, layer, h.ctypes.data_as(_float_p), hn,
                                                c.ctypes.data_as(_float_p), cn)
            if status:
                _raise(status)
            return h, (c if cn else None)
        finally:
            self._busy.release()

    def set_state(self, layer, h, c=None):
        """Sets layer `layer`'s h (and c for an LSTM; None keeps it). A layer
        that runs backwards starts its next runs from it."""
        handle = self._enter("Stream.set_state")
        try:
            layer = _index(layer, "layer", self._model.layer_count, "Stream.set_state")
            hn, cn = self._model._state_sizes[layer]
            ha = _floats(h, "h", "Stream.set_state")
            if ha.size != hn:
                raise SizeMismatchError(f"Stream.set_state: h has {ha.size} values, layer {layer} has {hn}")
            ca = None
            if c is not None:
                ca = _floats(c, "c", "Stream.set_state")
                if ca.size != cn:
                    raise SizeMismatchError(f"Stream.set_state: c has {ca.size} values, layer {layer} has {cn}")
            status = lib.recur_stream_set_state(handle, layer, ha.ctypes.data_as(_float_p), hn,
                                                ca.ctypes.data_as(_float_p) if ca is not None else None,
                                                cn if ca is not None else 0)
            if status:
                _raise(status)
        finally:
            self._busy.release()

    def set_memory(self, layer, values):
        """Sets attention layer `layer`'s memory: `values` of shape (rows,
        memory_size), typically an encoder's outputs (Stream.run). Copies
        them; room for them is reserved on first need (the one allocation;
        later sets of no more rows allocate nothing). Stepping needs every
        attention layer's memory set; reset() clears it."""
        handle = self._enter("Stream.set_memory")
        try:
            index = _index(layer, "layer", self._model.layer_count, "Stream.set_memory")
            if index not in self._attention:
                raise errors.InvalidArgumentError(f"Stream.set_memory: layer {index} is a "
                                                  f"{self._model.layers[index].kind} layer, not an attention layer")
            width = self._model.layers[index].memory_size
            va = _floats(values, "values", "Stream.set_memory")
            if va.ndim == 1 and width == 1:
                va = va.reshape(-1, 1)
            if va.ndim != 2 or va.shape[1] != width or va.shape[0] == 0:
                raise SizeMismatchError(f"Stream.set_memory: values has shape {va.shape}, expected (rows >= 1, {width})")
            rows = va.shape[0]
            if rows > self._memory_rows:
                status = lib.recur_stream_reserve_memory(handle, rows)
                if status:
                    _raise(status)
                self._memory_rows = rows
            status = lib.recur_stream_set_memory(handle, index, va.ctypes.data_as(_float_p), rows, width)
            if status:
                _raise(status)
        finally:
            self._busy.release()

    def reset(self):
        """Every state back to what creation gave it: the file's initial state
        where it has one, zero elsewhere (also clears a NaN left by an input),
        and no attention memory."""
        handle = self._enter("Stream.reset")
        try:
            lib.recur_stream_reset(handle)
        finally:
            self._busy.release()

    def close(self):
        """Frees the stream (waiting for a call in progress on another thread).
        Idempotent."""
        busy = getattr(self, "_busy", None)
        if busy is None:
            return
        with busy:
            handle, self._handle = self._handle, None
            self._x_array = self._x_view = self._y_array = self._y_view = None
        if handle is not None:
            lib.recur_stream_free(handle)

    def __enter__(self):
        self._enter("Stream")
        self._busy.release()
        return self

    def snapshot(self):
        """The stream's whole state as bytes: h and c of every layer, and the
        start state of layers that run backwards. Restore it with restore()."""
        handle = self._enter("Stream.snapshot")
        try:
            size = self._snapshot_size
            if self._attention:  # the memory rows add to the model's size
                needed = ctypes.c_size_t()
                lib.recur_stream_snapshot(handle, None, 0, ctypes.byref(needed))
                size = needed.value
            buffer = ctypes.create_string_buffer(size)
            written = ctypes.c_size_t()
            status = lib.recur_stream_snapshot(handle, buffer, size, ctypes.byref(written))
            if status:
                _raise(status)
            return buffer.raw[:written.value]
        finally:
            self._busy.release()

    def restore(self, snapshot):
        """Replaces the state with a snapshot's (bytes from snapshot(), of a
        stream of the same model file). Raises BadSnapshotError (truncated,
        corrupt, not a snapshot), UnsupportedVersionError (a later format) or
        WrongModelError (another model's), and then changes nothing."""
        if not isinstance(snapshot, (bytes, bytearray, memoryview)):
            raise TypeError(f"Stream.restore: snapshot must be bytes, not {type(snapshot).__name__} {_shown(snapshot)}")
        data = bytes(snapshot)
        handle = self._enter("Stream.restore")
        try:
            rows = _snapshot_memory_rows(data, self._model) if self._attention else 0
            if rows > self._memory_rows:  # room for the snapshot's memory: the library checks the rest
                status = lib.recur_stream_reserve_memory(handle, rows)
                if status:
                    _raise(status)
                self._memory_rows = rows
            status = lib.recur_stream_restore(handle, data, len(data))
            if status:
                _raise(status)
        finally:
            self._busy.release()

    def __copy__(self):
        if self._model.closed:
            raise BadHandleError("Stream: a stream of a closed Model cannot be copied (a copy is a new stream of "
                                 "the Model); keep the Model open, or pickle the stream")
        copy = Stream(self._model)
        copy.restore(self.snapshot())  # (sequence buffers are reserved when a run needs them)
        return copy

    def __deepcopy__(self, memo):
        return self.__copy__()  # the Model is immutable and shared

    def __reduce__(self):
        return _stream_from, (self._model, self.snapshot())

    def __repr__(self):
        return f"<recur.Stream {'closed' if self._handle is None else 'open'} of {self._model!r}>"
