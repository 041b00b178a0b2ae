"""Continues a prompt with a character-level language model through Recur's
Python binding: the same steps and the same sampling rule as textgen.c
(temperature, top-k), drawn from NumPy's seeded generator, so the same seed
gives the same text (within Python; the C example has its own generator).

    python examples/textgen/textgen.py [MODEL.recur] [-p PROMPT] [-n CHARACTERS]
                                       [-t TEMPERATURE] [-k TOP_K] [-s SEED]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
try:
    import recur
except ImportError:  # run from a checkout
    sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
    import recur


def draw(p, rng, temperature, top_k):
    """A token from probabilities p: the top_k most likely (ties: the lower
    token), weighted p ** (1 / temperature); temperature 0 is greedy."""
    order = np.argsort(-p, kind="stable")
    k = len(p) if top_k <= 0 or top_k > len(p) else top_k
    if temperature <= 0:
        return int(order[0])
    candidates = order[:k]
    w = p[candidates].astype(np.float64) ** (1.0 / temperature)
    return int(candidates[min(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"), k - 1)])


def generate(model, prompt, length, temperature=0.7, top_k=20, seed=1):
    """The prompt's continuation: `length` characters."""
    vocab = model.metadata["vocab"]
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted(set(prompt) - set(index))
    if missing:
        raise ValueError(f"characters not in the model's vocabulary: {missing}")
    rng = np.random.default_rng(seed)
    stream = model.stream()
    p = np.empty(len(vocab), np.float32)
    for c in prompt or "\n":  # an empty prompt starts where a verse starts
        stream.step_token(index[c], out=p)
    out = []
    for _ in range(length):
        token = draw(p, rng, temperature, top_k)
        out.append(vocab[token])
        stream.step_token(token, out=p)
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(here / "kjv.recur"))
    parser.add_argument("-p", "--prompt", default="And God said")
    parser.add_argument("-n", "--length", type=int, default=400)
    parser.add_argument("-t", "--temperature", type=float, default=0.7)
    parser.add_argument("-k", "--top-k", type=int, default=20)
    parser.add_argument("-s", "--seed", type=int, default=1)
    args = parser.parse_args(argv)
    model = recur.Model(args.model)
    start = time.perf_counter()
    text = generate(model, args.prompt, args.length, args.temperature, args.top_k, args.seed)
    seconds = time.perf_counter() - start
    print(args.prompt + text)
    print(f"{args.length} characters in {seconds * 1e3:.1f} ms: {args.length / seconds:.0f} characters per second",
          file=sys.stderr)


if __name__ == "__main__":
    main()
