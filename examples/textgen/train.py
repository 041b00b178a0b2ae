"""Trains the bundled character-level language model (the survey's §4.1):
an LSTM that reads the King James Bible one character at a time and gives
the probabilities of the next one.

The text is the King James Version of 1611 (public domain), as Debian ships
it in the package bible-kjv-text (read with the `bible` program of the
package bible-kjv: apt-get install bible-kjv). Chapter headings and verse
numbers are dropped; each verse is one line.

Splits, in the text's order: the last 100,000 characters (the end of the
New Testament) are held out and never seen in training; the 100,000 before
them decide early stopping; the rest (about 3.7 million characters) trains.

Writes, beside this file:
  kjv.recur         Embedding(V -> 32), LSTM(32 -> 192), LSTM(192 -> 192),
                    Dense(192 -> V), Softmax(V); metadata: "vocab" (the
                    characters in token order), "heldout_bpc" (bits per
                    character on the held-out split, measured through Recur),
                    "bigram_bpc" (an add-one bigram model fitted on the
                    training split, on the same held-out split)
  kjv-heldout.txt   the held-out split (for `make test` and `bits.py`)

Runs for TRAIN_MINUTES (default 40) of wall-clock time on the CPU. Needs
torch and the bible-kjv package (neither is needed to generate text):

    .venv/bin/python examples/textgen/train.py
"""
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parents[1] / "bindings" / "python"))
import recur  # noqa: E402

HELD_OUT = 100_000
VALIDATION = 100_000
EMBED, HIDDEN, LAYERS = 32, 192, 2
SEQUENCE, BATCH = 128, 64


def kjv_text():
    """The whole KJV, one verse per line, from Debian's `bible` program."""
    raw = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    verses, previous_blank = [], True
    for line in raw.splitlines():
        if not line.strip():
            previous_blank = True
            continue
        verse = re.match(r"^\s+\d+ (.*)$", line)
        if verse:
            verses.append(verse.group(1).strip())
        elif previous_blank:
            pass  # a chapter heading ("Genesis 1")
        else:
            verses[-1] += " " + line.strip()  # a wrapped verse
        previous_blank = False
    return "\n".join(verses) + "\n"


class CharLM(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, EMBED)
        self.lstm = torch.nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, vocab)

    def forward(self, tokens, state=None):
        h, state = self.lstm(self.embed(tokens), state)
        return self.head(h), state


def bits_per_char(model, tokens):
    """Mean -log2 p(next) over a split read from the start, state carried."""
    with torch.no_grad():
        x = torch.tensor(tokens[:-1], dtype=torch.long).reshape(1, -1)
        y = torch.tensor(tokens[1:], dtype=torch.long).reshape(-1)
        logits, _ = model(x)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y).item() / math.log(2)


def bigram_bits(train, held, vocab):
    counts = np.ones((vocab, vocab))  # add-one
    np.add.at(counts, (train[:-1], train[1:]), 1)
    p = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log2(p[held[:-1], held[1:]]).mean())


def to_layers(model, vocab):
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    layers = [recur.Embedding(sd["embed.weight"])]
    for k in range(LAYERS):
        layers.append(recur.LSTM(sd[f"lstm.weight_ih_l{k}"], sd[f"lstm.weight_hh_l{k}"],
                                 sd[f"lstm.bias_ih_l{k}"], sd[f"lstm.bias_hh_l{k}"]))
    layers += [recur.Dense(sd["head.weight"], sd["head.bias"]), recur.Softmax(vocab)]
    return layers


def main():
    minutes = float(os.environ.get("TRAIN_MINUTES", "40"))
    text = kjv_text()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    tokens = np.array([index[c] for c in text], dtype=np.int64)
    train, val, held = tokens[:-(HELD_OUT + VALIDATION)], tokens[-(HELD_OUT + VALIDATION):-HELD_OUT], tokens[-HELD_OUT:]
    (here / "kjv-heldout.txt").write_text(text[-HELD_OUT:])
    print(f"{len(text)} characters, vocabulary {len(chars)}; train {len(train)}, validation {len(val)}, held out {len(held)}")

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CharLM(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched_every, best, best_state, step = 500, float("inf"), None, 0
    start = time.time()
    data = torch.tensor(train)
    while time.time() - start < minutes * 60:
        model.train()
        offsets = rng.integers(0, len(train) - SEQUENCE - 1, size=BATCH)
        batch = torch.stack([data[o:o + SEQUENCE + 1] for o in offsets])
        logits, _ = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(chars)), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % sched_every == 0:
            model.eval()
            bpc = bits_per_char(model, val)
            if bpc < best:
                best, best_state = bpc, {k: v.clone() for k, v in model.state_dict().items()}
            else:
                for group in opt.param_groups:
                    group["lr"] *= 0.5
            print(f"step {step}, {time.time() - start:.0f} s: train {loss.item() / math.log(2):.3f} bpc, "
                  f"validation {bpc:.3f} bpc, lr {opt.param_groups[0]['lr']:.2g}", flush=True)
    model.eval()
    if bits_per_char(model, val) < best:
        best_state = model.state_dict()
    model.load_state_dict(best_state)
    print(f"{step} steps in {time.time() - start:.0f} s", flush=True)

    torch_bpc = bits_per_char(model, held)
    bigram = bigram_bits(train, held, len(chars))
    path = here / "kjv.recur"
    layers = to_layers(model, len(chars))
    recur.save(path, layers, producer="examples/textgen/train.py (torch " + torch.__version__ + ")")
    # The held-out figure through Recur itself, then written into the model.
    m = recur.Model(path)
    ys = m.stream().run_tokens(held[:-1].astype(np.int32))
    recur_bpc = float(-np.log2(ys[np.arange(len(held) - 1), held[1:]]).mean())
    assert abs(recur_bpc - torch_bpc) < 1e-3, (recur_bpc, torch_bpc)
    recur.save(path, layers, producer="examples/textgen/train.py (torch " + torch.__version__ + ")",
               metadata={"vocab": "".join(chars), "heldout_bpc": f"{recur_bpc:.4f}", "bigram_bpc": f"{bigram:.4f}",
                         "source": "King James Version (1611, public domain), Debian package bible-kjv-text"})
    print(f"held out: {recur_bpc:.4f} bits per character through Recur ({torch_bpc:.4f} in PyTorch); "
          f"bigram baseline {bigram:.4f}; {path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
