"""Bits per character of the bundled language model on its held-out text
(kjv-heldout.txt: the last 100,000 characters of the King James Bible, never
seen in training), measured through Recur now, beside the figures train.py
wrote into the model: the same measurement at training time, and an add-one
bigram model fitted on the training split.

    python examples/textgen/bits.py [MODEL.recur [HELD_OUT.txt]]
"""
import sys
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
try:
    import recur
except ImportError:  # run from a checkout
    sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
    import recur


def held_out_bits(model, text):
    """Mean -log2 p(next character), reading `text` from a fresh stream."""
    index = {c: i for i, c in enumerate(model.metadata["vocab"])}
    tokens = np.array([index[c] for c in text], dtype=np.int32)
    ys = model.stream().run_tokens(tokens[:-1])
    return float(-np.log2(ys[np.arange(len(tokens) - 1), tokens[1:]].astype(np.float64)).mean())


def main(argv):
    model = recur.Model(argv[0] if argv else here / "kjv.recur")
    text = Path(argv[1] if len(argv) > 1 else here / "kjv-heldout.txt").read_text()
    bits = held_out_bits(model, text)
    print(f"held out ({len(text)} characters): {bits:.4f} bits per character through Recur "
          f"(recorded at training: {model.metadata['heldout_bpc']}); "
          f"bigram baseline: {model.metadata['bigram_bpc']}")


if __name__ == "__main__":
    main(sys.argv[1:])
