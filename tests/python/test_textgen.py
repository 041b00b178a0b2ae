"""The bundled language model (examples/textgen): its held-out bits per
character through Recur against the figure committed in the model, against
PyTorch running the same weights, and against the bigram baseline; and the
Python sampler's reproducibility."""
import sys
from pathlib import Path

import numpy as np
import pytest

import recur

TEXTGEN = Path(__file__).resolve().parents[2] / "examples" / "textgen"
sys.path.insert(0, str(TEXTGEN))
import bits  # noqa: E402
import textgen  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return recur.Model(TEXTGEN / "kjv.recur")


@pytest.fixture(scope="module")
def held_out():
    return (TEXTGEN / "kjv-heldout.txt").read_text()


def test_held_out_bits_match_the_committed_figure(model, held_out):
    measured = bits.held_out_bits(model, held_out)
    assert abs(measured - float(model.metadata["heldout_bpc"])) < 2e-3
    # A language model, not a bigram table: well over a bit per character better.
    assert measured < float(model.metadata["bigram_bpc"]) - 1.0


def test_recur_gives_pytorchs_probabilities(model, held_out):
    torch = pytest.importorskip("torch")
    layers = recur.load_message((TEXTGEN / "kjv.recur").read_bytes()).layers
    t = lambda tensor: torch.tensor(np.frombuffer(tensor.data, np.float32).reshape(tuple(tensor.shape)))  # noqa: E731
    embed, lstm1, lstm2, dense = layers[0].embedding, layers[1].lstm, layers[2].lstm, layers[3].dense
    index = {c: i for i, c in enumerate(model.metadata["vocab"])}
    tokens = np.array([index[c] for c in held_out[:3000]], dtype=np.int64)
    with torch.no_grad():
        h = t(embed.weight)[torch.tensor(tokens)].unsqueeze(1)
        for cell in (lstm1, lstm2):
            lstm = torch.nn.LSTM(cell.input_size, cell.hidden_size)
            lstm.weight_ih_l0.copy_(t(cell.weight_ih)), lstm.weight_hh_l0.copy_(t(cell.weight_hh))
            lstm.bias_ih_l0.copy_(t(cell.bias_ih)), lstm.bias_hh_l0.copy_(t(cell.bias_hh))
            h, _ = lstm(h)
        want = torch.softmax(h.squeeze(1) @ t(dense.weight).T + t(dense.bias), dim=1).numpy()
    got = model.stream().run_tokens(tokens.astype(np.int32))
    assert np.abs(got - want).max() < 1e-5


def test_same_seed_same_text(model):
    a = textgen.generate(model, "And God said", 200, temperature=0.8, top_k=20, seed=3)
    b = textgen.generate(model, "And God said", 200, temperature=0.8, top_k=20, seed=3)
    c = textgen.generate(model, "And God said", 200, temperature=0.8, top_k=20, seed=4)
    assert a == b and a != c and len(a) == 200
    assert set(a) <= set(model.metadata["vocab"])


def test_greedy_is_the_argmax(model):
    text = textgen.generate(model, "In the beginning", 100, temperature=0, seed=1)
    vocab = model.metadata["vocab"]
    stream = model.stream()
    for c in "In the beginning":
        p = stream.step_token(vocab.index(c))
    for c in text:
        assert vocab[int(np.argmax(p))] == c
        p = stream.step_token(vocab.index(c))


def test_top_k_draws_only_the_k_most_likely():
    p = np.array([0.1, 0.4, 0.05, 0.3, 0.15], np.float32)
    rng = np.random.default_rng(0)
    drawn = {textgen.draw(p, rng, 1.0, 2) for _ in range(500)}
    assert drawn == {1, 3}


def test_unknown_prompt_characters_are_named(model):
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        textgen.generate(model, "Zürich", 5)
