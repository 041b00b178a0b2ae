"""The `recur` command (python -m recur; the console script of pyproject.toml):
info, run, convert's missing-onnx message, --help, and one-line errors."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import recur

ROOT = Path(__file__).resolve().parents[2]
SUNSPOTS = ROOT / "examples" / "forecast" / "sunspots.recur"


def cli(*args, stdin=""):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    return subprocess.run([sys.executable, "-m", "recur", *map(str, args)], input=stdin, capture_output=True,
                          text=True, env=env, cwd="/tmp")


def test_help_exits_zero_on_stdout():
    for args in ([], ["--help"], ["info", "--help"], ["run", "--help"]):
        r = cli(*args) if args else cli("--help")
        assert r.returncode == 0 and "usage: recur" in r.stdout and not r.stderr, (args, r)
    assert cli("--version").stdout.strip() == f"recur {recur.__version__}"


def test_info_shows_the_layers_and_metadata():
    r = cli("info", SUNSPOTS)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "4,513 parameters" in lines[0]
    assert any(l.split()[:3] == ["0", "lstm", "lstm"] and "4,480" in l for l in lines)
    assert any(l.split()[:3] == ["1", "dense", "forecast"] for l in lines)
    assert "    heldout_mae: 14.515" in lines
    assert f"instruction set here: {recur.isa()}" in r.stdout


def test_run_streams_rows_as_stream_step_does():
    xs = np.array([[5.0], [11.0], [16.0], [23.0], [36.0]])
    r = cli("run", SUNSPOTS, stdin="# years 1700-1704\n" + "\n".join(str(x[0]) for x in xs) + "\n\n")
    assert r.returncode == 0, r.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in r.stdout.splitlines()], dtype=np.float32)
    stream = recur.Model(SUNSPOTS).stream()
    assert np.array_equal(got, np.stack([stream.step(x) for x in xs]))


def test_run_sequence_and_token_models(tmp_path):
    rng = np.random.default_rng(2)
    seq = tmp_path / "seq.recur"
    recur.save(seq, [recur.GRU(rng.normal(size=(9, 2)), rng.normal(size=(9, 3)), None, None, direction="reverse")])
    xs = rng.normal(size=(4, 2)).astype(np.float32)
    r = cli("run", seq, stdin="\n".join(",".join(repr(float(v)) for v in x) for x in xs))
    assert r.returncode == 0, r.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in r.stdout.splitlines()], dtype=np.float32)
    assert np.array_equal(got, recur.Model(seq).stream().run(xs))
    tok = tmp_path / "tok.recur"
    recur.save(tok, [recur.Embedding(rng.normal(size=(6, 2))), recur.Softmax(2)])
    r = cli("run", tok, stdin="3\n5\n")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, r


def test_errors_are_one_line_with_a_nonzero_exit(tmp_path):
    cases = [(("info", tmp_path / "missing.recur"), "", "cannot open"),
             (("run", SUNSPOTS), "1\n2,3\n", "line 2: 2 values, the model takes 1"),
             (("run", SUNSPOTS), "1\nabc\n", "line 2: numbers expected"),
             (("info", ROOT / "README.md"), "", "LZ4")]
    for args, stdin, words in cases:
        r = cli(*args, stdin=stdin)
        assert r.returncode == 1, (args, r)
        assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("recur: error: ") and words in r.stderr, r.stderr
    r = cli("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_convert_without_onnx_says_what_to_install():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    code = "import sys; sys.modules['onnx'] = None; from recur.cli import main; sys.exit(main(['convert', 'a', 'b']))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and r.stderr.strip() == "recur: error: recur convert needs the onnx package (pip install onnx)"


def test_a_missing_library_says_where_it_looked(tmp_path):
    # A copy of the package with no library inside and no checkout around it.
    import shutil
    shutil.copytree(ROOT / "bindings" / "python" / "recur", tmp_path / "a" / "b" / "recur",
                    ignore=shutil.ignore_patterns("librecur.so", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("RECUR_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path / "a" / "b")
    r = subprocess.run([sys.executable, "-c", "import recur; recur.Model"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode != 0
    message = r.stderr.strip().splitlines()
    assert "cannot find librecur.so; looked in:" in r.stderr, r.stderr
    assert any("inside the package" in line and "not there" in line for line in message), r.stderr
    assert any("the system's library path" in line for line in message), r.stderr
    assert "RECUR_LIBRARY" in message[-1]


def test_the_readme_writing_snippet_runs_as_written(tmp_path):
    import re
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(import numpy as np\nimport torch\nimport recur\n.*?)```", readme, re.S).group(1)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    r = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert recur.Model(tmp_path / "m.recur").layers[0].hidden_size == 64


def test_info_says_how_reduced_weights_are_kept(tmp_path):
    rng = np.random.default_rng(0)
    u = lambda *s: rng.uniform(-0.1, 0.1, size=s).astype(np.float32)
    path = tmp_path / "int8.recur"
    recur.save(path, [recur.LSTM(u(512, 64), u(512, 128), u(512), u(512)), recur.Dense(u(3, 128), u(3))], weights="int8")
    r = cli("info", path)
    assert r.returncode == 0, r.stderr
    assert "(int8 weight matrices, float32 elsewhere)" in r.stdout.splitlines()[0]
    assert r.stdout.splitlines()[1].strip() == "kept as (weight_storage auto): 0: bf16 codes, 1: fp32"
