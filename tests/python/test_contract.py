"""include/recur.h is the one source of truth for the version, the status
codes and the exported functions; every other copy is checked against it
here: the library's exports and its status texts, the ctypes declarations,
the Python exceptions, the Python package's version."""
import ctypes
import os
import re
import subprocess
from pathlib import Path

import recur
from recur import _native, errors

ROOT = Path(__file__).resolve().parents[2]
HEADER = (ROOT / "include" / "recur.h").read_text()
CODE = re.sub(r"/\*.*?\*/", " ", HEADER, flags=re.S)


def header_version():
    parts = [re.search(rf"#define RECUR_VERSION_{p} (\d+)", HEADER).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def header_statuses():
    body = re.search(r"typedef enum recur_status \{(.*?)\} recur_status;", CODE, re.S).group(1)
    return {int(n): name for name, n in re.findall(r"RECUR_(?:ERROR_)?(\w+) = (\d+)", body)}


def header_functions():
    """{name: parameter count} of every function the header declares."""
    found = {}
    for name, params in re.findall(r"\b(recur_\w+)\s*\(([^()]*)\)\s*;", CODE):
        params = params.strip()
        found[name] = 0 if params in ("", "void") else params.count(",") + 1
    return found


def test_version_is_the_headers_everywhere():
    version = header_version()
    assert recur.version() == version
    major, minor, patch = (int(p) for p in version.split("."))
    assert _native.lib.recur_version_number() == major * 10000 + minor * 100 + patch
    assert recur.__version__ == version
    pyproject = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    assert re.search(r'^version = "(.*)"', pyproject, re.M).group(1) == version


def test_the_library_knows_exactly_the_headers_status_codes():
    statuses = header_statuses()
    assert sorted(statuses) == list(range(len(statuses))), "status codes must be 0, 1, 2, ... without gaps"
    texts = [_native.lib.recur_status_string(code).decode() for code in sorted(statuses)]
    assert "unknown status" not in texts and len(set(texts)) == len(texts), texts
    assert _native.lib.recur_status_string(len(statuses)) == b"unknown status"


def test_one_python_exception_per_status():
    statuses = header_statuses()
    assert statuses.pop(0) == "OK"
    for code, name in statuses.items():
        expected = "RecurIOError" if name == "IO" else "".join(w.title() for w in name.split("_")) + "Error"
        cls = getattr(recur, expected, None)
        assert cls is not None, f"status {code} ({name}) has no recur.{expected}"
        assert cls.status == code and issubclass(cls, recur.RecurError)
        assert errors.BY_STATUS[code] is cls
        assert recur.errors.error(code, "detail").name == _native.lib.recur_status_string(code).decode()
    assert sorted(errors.BY_STATUS) == sorted(statuses)


def test_exports_are_exactly_the_headers_functions():
    library = os.environ.get("RECUR_LIBRARY") or str(ROOT / "out" / "lib" / "librecur.so")
    nm = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in nm.splitlines() if line.split()[1:2] == ["T"]}
    declared = set(header_functions())
    assert exported == declared, f"exported, not declared: {sorted(exported - declared)}; " \
                                 f"declared, not exported: {sorted(declared - exported)}"


def test_ctypes_declarations_match_the_header():
    declared = header_functions()
    for name, count in declared.items():
        fn = getattr(_native.lib, name)
        assert fn.argtypes is not None, f"{name} has no ctypes declaration"
        assert len(fn.argtypes) == count, f"{name}: ctypes has {len(fn.argtypes)} parameters, the header {count}"
    source = (ROOT / "bindings" / "python" / "recur" / "_native.py").read_text()
    assert set(re.findall(r'\("(recur_\w+)"', source)) == set(declared)


def struct_fields(name):
    """Field names of a typedef'd struct of the header: function pointers,
    arrays and comma-separated declarations included."""
    body = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", CODE, re.S).group(1)
    fields = []
    for decl in filter(None, (d.strip() for d in body.split(";"))):
        pointer = re.search(r"\(\*(\w+)\)\s*\(", decl)
        if pointer:
            fields.append(pointer.group(1))
            continue
        for part in decl.split(","):
            fields.append(re.search(r"(\w+)\s*(?:\[\w*\])?\s*$", part).group(1))
    return fields


def test_load_options_structs_match_the_header():
    assert [name for name, _ in _native.LoadOptions._fields_] == struct_fields("recur_load_options")
    assert [name for name, _ in _native.Allocator._fields_] == struct_fields("recur_allocator")
    assert _native.lib.recur_load_options_default().struct_size == ctypes.sizeof(_native.LoadOptions)


def test_layer_info_struct_matches_the_header():
    assert [name for name, _ in _native.LayerInfo._fields_] == struct_fields("recur_layer_info")
