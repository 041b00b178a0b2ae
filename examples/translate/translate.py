"""Translates English number words to French with a bundled encoder and
decoder through Recur's Python binding: the same steps, greedy decoding and
beam search as translate.cpp (which the README runs), so both give the same
translations.

    python examples/translate/translate.py [--attention] [--beam N] [WORDS ...]

With words ("two hundred and one"), prints their translation; without,
translates the held-out pairs (heldout.tsv) and prints the exact-match
accuracy, overall and on the longest fifth of the inputs.

How a sentence is translated (the survey's §4.2):
  1. the encoder reads the source tokens (Stream.run_tokens); its outputs
     are the attention's memory, its final (h, c) the decoder's start;
  2. the decoder starts from that state (Stream.set_state) with the memory
     set (Stream.set_memory, with attention), reads <s>, and then each token
     it chose, until </s>:
     greedy: the most likely token each step;
     beam search: the `beam` best partial translations by the sum of their
     tokens' log-probabilities, each in a stream of its own; a step extends
     each by every token, keeps the best `beam` (ties: the earlier beam, then
     the lower token), and copies the state of each kept one's parent into
     its stream (Stream.snapshot / restore). A translation ending in </s> is
     finished; the search stops when the best finished one scores at least
     as well as every unfinished one.
"""
import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
try:
    import recur
except ImportError:  # run from a checkout
    sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
    import recur

MAX_LENGTH = 96  # target tokens, </s> included


def read_heldout(path=here / "heldout.tsv"):
    rows = [line.split("\t") for line in Path(path).read_text().splitlines()]
    return [(n, e.split(), f.split()) for n, e, f in rows]


class Translator:
    def __init__(self, encoder_path, decoder_path, beam=1):
        self.encoder, self.decoder = recur.Model(encoder_path), recur.Model(decoder_path)
        self.source = self.decoder.metadata["source_vocab"].split(" ")
        self.target = self.decoder.metadata["target_vocab"].split(" ")
        self.source_index = {t: i for i, t in enumerate(self.source)}
        self.bos, self.eos = self.target.index("<s>"), self.target.index("</s>")
        kinds = [layer.kind for layer in self.decoder.layers]
        self.attention = kinds.index("attention") if "attention" in kinds else None
        self.beam = beam
        self.encoding = self.encoder.stream()
        self.streams = [self.decoder.stream() for _ in range(beam)]

    def start(self, words):
        """Encodes `words`; every decoder stream starts from the encoder's state."""
        unknown = [w for w in words if w not in self.source_index]
        if unknown:
            raise ValueError(f"not in the source vocabulary: {unknown}")
        self.encoding.reset()
        memory = self.encoding.run_tokens([self.source_index[w] for w in words])
        h, c = self.encoding.get_state(1)
        for s in self.streams:
            s.reset()
            s.set_state(1, h, c)
            if self.attention is not None:
                s.set_memory(self.attention, memory)

    def translate(self, words):
        self.start(words)
        tokens = self.greedy() if self.beam == 1 else self.beam_search()
        return [self.target[t] for t in tokens]

    def greedy(self):
        s, out, token = self.streams[0], [], self.bos
        while len(out) < MAX_LENGTH:
            token = int(np.argmax(s.step_token(token)))
            if token == self.eos:
                break
            out.append(token)
        return out

    def beam_search(self):
        live = [(0.0, [], 0)]  # (score, tokens, stream index)
        finished = []
        for _ in range(MAX_LENGTH):
            candidates, saved = [], []
            for b, (score, tokens, k) in enumerate(live):
                logits = self.streams[k].step_token(tokens[-1] if tokens else self.bos).astype(np.float64)
                logp = logits - logits.max()
                logp -= np.log(np.exp(logp).sum())
                saved.append(self.streams[k].snapshot())
                candidates += [(score + logp[t], b, t) for t in range(len(logp))]
            candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
            kept = []
            for score, b, t in candidates[:self.beam]:
                if t == self.eos:
                    finished.append((score, live[b][1]))
                else:
                    kept.append((score, live[b][1] + [t], b))
            live = []
            for k, (score, tokens, b) in enumerate(kept):
                self.streams[k].restore(saved[b])
                live.append((score, tokens, k))
            best = max(finished, key=lambda f: f[0], default=None)
            if not live or (best is not None and best[0] >= live[0][0]):
                break
        best = max(finished, key=lambda f: f[0], default=None)
        return best[1] if best is not None else live[0][1]


@dataclass
class Result:
    exact: float           # share of the held-out pairs translated exactly
    exact_longest: float   # the same on the longest fifth of the inputs
    translations: list


def longest_fifth(pairs):
    """Indices of the longest fifth of the inputs (by source tokens; ties: the later pair)."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][1]), i))
    return set(order[len(pairs) - len(pairs) // 5:])


def evaluate(encoder_path, decoder_path, beam=1, pairs=None):
    pairs = read_heldout() if pairs is None else pairs
    t = Translator(encoder_path, decoder_path, beam)
    out = [t.translate(english) for _, english, _ in pairs]
    right = [o == french for o, (_, _, french) in zip(out, pairs)]
    longest = longest_fifth(pairs)
    return Result(float(np.mean(right)), float(np.mean([right[i] for i in longest])), out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attention", action="store_true", help="the translator with attention")
    parser.add_argument("--beam", type=int, default=1, help="beam width (1: greedy)")
    parser.add_argument("words", nargs="*")
    args = parser.parse_args()
    suffix = "-attention" if args.attention else ""
    paths = here / f"encoder{suffix}.recur", here / f"decoder{suffix}.recur"
    if args.words:
        words = " ".join(args.words).replace("-", " - ").replace(",", " , ").split()
        print(" ".join(Translator(*paths, args.beam).translate(words)).replace(" - ", "-").replace(" ,", ","))
        return
    r = evaluate(*paths, beam=args.beam)
    print(f"exact match {r.exact:.4f}, on the longest fifth {r.exact_longest:.4f} "
          f"({'greedy' if args.beam == 1 else f'beam {args.beam}'}, {len(r.translations)} held-out pairs)")


if __name__ == "__main__":
    main()
