"""ctypes declarations for librecur (include/recur.h)."""
import ctypes
import ctypes.util
import os
from pathlib import Path

_here = Path(__file__).resolve().parent


def _candidates():
    """Where librecur.so may be, in order, and why."""
    yield _here / "librecur.so", "inside the package (pip install builds it)"
    root = _here.parent.parent.parent  # a source checkout: bindings/python/recur -> the repository
    yield root / "out" / "lib" / "librecur.so", "the source checkout's build (make)"
    yield root / ".build" / "release" / "librecur.so", "the source checkout's SwiftPM build"


def _load():
    env = os.environ.get("RECUR_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise OSError(f"RECUR_LIBRARY is {env!r}, which does not exist (unset it to use the package's own library)")
        try:
            return ctypes.CDLL(env)
        except OSError as exc:
            raise OSError(f"RECUR_LIBRARY is {env!r}, which cannot be loaded: {exc}") from None
    looked = []
    for path, why in _candidates():
        if not path.exists():
            looked.append(f"{path} ({why}): not there")
            continue
        try:
            return ctypes.CDLL(str(path))
        except OSError as exc:
            looked.append(f"{path} ({why}): {exc}")
    found = ctypes.util.find_library("recur")
    if found:
        try:
            return ctypes.CDLL(found)
        except OSError as exc:
            looked.append(f"{found} (the system's library path): {exc}")
    else:
        looked.append("the system's library path (ctypes.util.find_library): not there")
    raise OSError("cannot find librecur.so; looked in:\n  " + "\n  ".join(looked) +
                  "\ninstall the package with pip (which builds it), run `make` in the source checkout, "
                  "or set RECUR_LIBRARY to the library's path")


lib = _load()

_p = ctypes.c_void_p
_size = ctypes.c_size_t
_float_p = ctypes.POINTER(ctypes.c_float)


class Allocator(ctypes.Structure):
    """recur_allocator"""
    _fields_ = [("alloc", _p), ("free", _p), ("opaque", _p)]


class LoadOptions(ctypes.Structure):
    """recur_load_options (tests/python/test_contract.py checks the fields)."""
    _fields_ = [("struct_size", _size), ("max_file_bytes", _size), ("max_content_bytes", _size),
                ("max_model_bytes", _size), ("max_stream_bytes", _size), ("max_layers", _size),
                ("max_dimension", _size), ("max_metadata_entries", _size), ("max_metadata_bytes", _size),
                ("max_name_bytes", _size), ("allocator", Allocator), ("weight_storage", ctypes.c_int)]


_options_p = ctypes.POINTER(LoadOptions)


class LayerInfo(ctypes.Structure):
    """recur_layer_info of include/recur.h."""
    _fields_ = [("struct_size", _size), ("kind", ctypes.c_int), ("direction", ctypes.c_int),
                ("name", ctypes.c_char_p), ("input_size", _size), ("output_size", _size), ("hidden_size", _size),
                ("proj_size", _size), ("vocab_size", _size), ("parameters", _size), ("options", ctypes.c_uint32),
                ("element_type", ctypes.c_uint32), ("function_count", ctypes.c_uint32),
                ("functions", ctypes.c_int * 3), ("alpha", ctypes.c_float * 3), ("beta", ctypes.c_float * 3),
                ("memory_size", _size), ("score", ctypes.c_int), ("units", _size), ("scale", ctypes.c_float),
                ("storage_type", ctypes.c_uint32)]

for name, restype, argtypes in [
    ("recur_version", ctypes.c_char_p, []),
    ("recur_version_number", ctypes.c_int, []),
    ("recur_isa", ctypes.c_char_p, []),
    ("recur_status_string", ctypes.c_char_p, [ctypes.c_int]),
    ("recur_last_error", ctypes.c_char_p, []),
    ("recur_model_load_file", ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_p)]),
    ("recur_model_load_memory", ctypes.c_int, [ctypes.c_char_p, _size, ctypes.POINTER(_p)]),
    ("recur_load_options_default", LoadOptions, []),
    ("recur_model_load_file_ex", ctypes.c_int, [ctypes.c_char_p, _options_p, ctypes.POINTER(_p)]),
    ("recur_model_load_memory_ex", ctypes.c_int, [ctypes.c_char_p, _size, _options_p, ctypes.POINTER(_p)]),
    ("recur_model_free", None, [_p]),
    ("recur_model_input_size", _size, [_p]),
    ("recur_model_output_size", _size, [_p]),
    ("recur_stream_create", ctypes.c_int, [_p, ctypes.POINTER(_p)]),
    ("recur_stream_size", _size, [_p]),
    ("recur_stream_alignment", _size, []),
    ("recur_stream_init", ctypes.c_int, [_p, _p, _size, ctypes.POINTER(_p)]),
    ("recur_stream_free", None, [_p]),
    ("recur_stream_reset", None, [_p]),
    ("recur_step", ctypes.c_int, [_p, _float_p, _size, _float_p, _size]),
    ("recur_run", ctypes.c_int, [_p, _size, _float_p, _size, _float_p, _size]),
    ("recur_step_token", ctypes.c_int, [_p, ctypes.c_int32, _float_p, _size]),
    ("recur_run_tokens", ctypes.c_int, [_p, _size, ctypes.POINTER(ctypes.c_int32), _size, _float_p, _size]),
    ("recur_step_streams", ctypes.c_int, [_p, ctypes.POINTER(_p), _size, _float_p, _size, _float_p, _size]),
    ("recur_step_streams_tokens", ctypes.c_int,
     [_p, ctypes.POINTER(_p), _size, ctypes.POINTER(ctypes.c_int32), _size, _float_p, _size]),
    ("recur_stream_reserve", ctypes.c_int, [_p, _size]),
    ("recur_stream_reserve_memory", ctypes.c_int, [_p, _size]),
    ("recur_stream_set_memory", ctypes.c_int, [_p, _size, _float_p, _size, _size]),
    ("recur_model_layer_count", _size, [_p]),
    ("recur_model_vocab_size", _size, [_p]),
    ("recur_model_state_size", ctypes.c_int, [_p, _size, ctypes.POINTER(_size), ctypes.POINTER(_size)]),
    ("recur_stream_get_state", ctypes.c_int, [_p, _size, _float_p, _size, _float_p, _size]),
    ("recur_stream_set_state", ctypes.c_int, [_p, _size, _float_p, _size, _float_p, _size]),
    ("recur_model_layer_info", ctypes.c_int, [_p, _size, ctypes.POINTER(LayerInfo)]),
    ("recur_model_producer", ctypes.c_char_p, [_p]),
    ("recur_model_metadata_count", _size, [_p]),
    ("recur_model_metadata", ctypes.c_int, [_p, _size, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p)]),
    ("recur_stream_snapshot_size", _size, [_p]),
    ("recur_stream_snapshot", ctypes.c_int, [_p, ctypes.c_char_p, _size, ctypes.POINTER(_size)]),
    ("recur_stream_restore", ctypes.c_int, [_p, ctypes.c_char_p, _size]),
]:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
