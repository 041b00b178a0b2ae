"""Run by `make test-install` with the Python of a fresh venv into which
`pip install bindings/python` went, from /tmp, with neither RECUR_LIBRARY
nor PYTHONPATH set: the package is a platform wheel carrying its library,
`import recur` needs only numpy, the README's Python snippet runs as
written, and a bad RECUR_LIBRARY is an error naming it.

    python installed_check.py README.md"""
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import recur

site = Path(recur.__file__).resolve().parent
assert Path(sys.prefix).resolve() in site.parents, f"recur imported from {site}, not the venv"
wheel = importlib.metadata.distribution("recur").read_text("WHEEL")
assert "Root-Is-Purelib: false" in wheel and re.search(r"Tag: py3-none-linux_\w+", wheel), wheel
assert (site / "py.typed").exists()

heavy = {"lz4", "google.protobuf", "onnx", "torch"} & set(sys.modules)
assert not heavy, f"import recur imported {heavy}"
model = recur.Model(recur.example("sunspots"))
from recur import _native  # noqa: E402
assert Path(_native.lib._name).resolve() == site / "librecur.so", _native.lib._name

readme = Path(sys.argv[1]).read_text()
snippet = re.search(r"```python\n(import numpy as np\nimport recur .*?)```", readme, re.S).group(1)
exec(compile(snippet, "README.md", "exec"), {})
print(f"README snippet ran; {model!r}")

env = dict(os.environ, RECUR_LIBRARY="/nonexistent/librecur.so")
r = subprocess.run([sys.executable, "-c", "import recur; recur.Model"], capture_output=True, text=True, env=env)
assert r.returncode != 0 and "RECUR_LIBRARY is '/nonexistent/librecur.so', which does not exist" in r.stderr, r.stderr
print("installed package: platform wheel, own library, numpy-only import, README snippet, RECUR_LIBRARY errors")
