"""The bundled translators (examples/translate): the C++ example's
exact-match accuracies on the held-out pairs are the ones committed in each
decoder's metadata (measured through the Python binding at training time),
greedy and with a beam of 4, overall and on the longest fifth of the
inputs; the Python and C++ decoders agree; attention helps most on the
longest inputs; the held-out pairs are what data.py generates."""
import re
import subprocess
import sys

import numpy as np
import pytest

import recur
from conftest import ROOT

HERE = ROOT / "examples" / "translate"
sys.path.insert(0, str(HERE))
import translate  # noqa: E402

TOL = 0.005
MODELS = {"plain": ("encoder.recur", "decoder.recur"), "attention": ("encoder-attention.recur", "decoder-attention.recur")}
LINE = re.compile(r"exact (\d+)/(\d+) = [0-9.]+, longest fifth (\d+)/(\d+) = [0-9.]+; (\d+) sentences per second")


def run_cpp(which, beam):
    encoder, decoder = MODELS[which]
    done = subprocess.run([str(ROOT / "out" / "translate"), "-e", "0", "-b", str(beam), str(HERE / encoder),
                           str(HERE / decoder), str(HERE / "heldout.tsv")], capture_output=True, text=True, check=True)
    right, n, right_longest, n_longest, _ = map(int, LINE.search(done.stdout).groups())
    return right / n, right_longest / n_longest


@pytest.fixture(scope="module")
def cpp():
    return {(which, beam): run_cpp(which, beam) for which in MODELS for beam in (1, 4)}


@pytest.mark.parametrize("which", MODELS)
@pytest.mark.parametrize("beam", [1, 4])
def test_cpp_accuracy_is_the_committed_one(cpp, which, beam):
    meta = recur.Model(HERE / MODELS[which][1]).metadata
    name = "greedy" if beam == 1 else "beam4"
    exact, longest = cpp[which, beam]
    assert abs(exact - float(meta[f"heldout_exact_{name}"])) <= TOL
    assert abs(longest - float(meta[f"heldout_exact_{name}_longest_fifth"])) <= TOL


@pytest.mark.parametrize("which", MODELS)
def test_python_greedy_agrees_with_cpp(cpp, which):
    result = translate.evaluate(*(HERE / f for f in MODELS[which]), beam=1)
    assert (result.exact, result.exact_longest) == pytest.approx(cpp[which, 1], abs=1e-12)


def test_attention_helps_on_the_longest_inputs(cpp):
    """The survey's point (§4.2, §7.3): one fixed-length vector holds a long
    sentence less well than attention over every encoder output."""
    assert cpp["attention", 1][1] >= cpp["plain", 1][1] + 0.05
    assert cpp["attention", 1][0] > cpp["plain", 1][0]


def test_a_translation():
    t = translate.Translator(HERE / "encoder-attention.recur", HERE / "decoder-attention.recur")
    assert " ".join(t.translate("two hundred and one".split())) == "deux cent un"


def test_heldout_pairs_are_what_data_py_generates(tmp_path):
    subprocess.run([sys.executable, str(HERE / "data.py"), str(tmp_path / "heldout.tsv")], check=True,
                   capture_output=True)
    assert (tmp_path / "heldout.tsv").read_text() == (HERE / "heldout.tsv").read_text()
