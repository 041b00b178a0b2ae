"""Trains the bundled translators (English number words to French, data.py):
an encoder-decoder LSTM (the survey's §4.2), and the same with Luong
attention over the encoder's outputs (§7.3).

    encoder:  Embedding(source, 64) -> LSTM(64 -> 128); its final (h, c)
              starts the decoder, its outputs are the attention's memory
    decoder:  Embedding(target, 64) -> LSTM(64 -> 128) -> Dense(128 -> target)
    with attention (--attention):
              Embedding(target, 64) -> LSTM(64 -> 128)
              -> Attention(general: score_i = h . W m_i; output [context, h])
              -> Dense(256 -> 128, tanh) -> Dense(128 -> target)

The decoder reads the previous target token (<s> first) and is trained with
teacher forcing on random numbers (data.py; never a held-out one). Runs for
TRAIN_MINUTES (default 40) of wall-clock time on one thread, keeping the
weights that translate most of a validation set exactly (greedy decoding),
then writes, beside this file,

    encoder.recur, decoder.recur                      (without attention)
    encoder-attention.recur, decoder-attention.recur  (--attention)

with the vocabularies and the held-out exact-match accuracies (measured
through Recur by translate.py's own decoding in Python) as metadata. The
two models train at once on a 2-core machine:

    .venv/bin/python examples/translate/train.py &
    .venv/bin/python examples/translate/train.py --attention &

`--export CHECKPOINT` writes the .recur files again from a checkpoint
saved by an earlier run (out/translate-*.pt), without training.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

here = Path(__file__).resolve().parent
root = here.parents[1]
sys.path.insert(0, str(root / "bindings" / "python"))
sys.path.insert(0, str(here))
import data  # noqa: E402

EMBED, HIDDEN, BATCH = 64, 128, 64
MAX_TARGET = 96


class Translator(nn.Module):
    def __init__(self, source_vocab, target_vocab, attention):
        super().__init__()
        self.attention = attention
        self.source_embed = nn.Embedding(source_vocab, EMBED)
        self.encoder = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.target_embed = nn.Embedding(target_vocab, EMBED)
        self.decoder = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        if attention:
            self.score = nn.Linear(HIDDEN, HIDDEN, bias=False)  # W in h . W m
            self.combine = nn.Linear(2 * HIDDEN, HIDDEN)
        self.head = nn.Linear(HIDDEN, target_vocab)

    def encode(self, source, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.source_embed(source), lengths, batch_first=True,
                                                   enforce_sorted=False)
        outputs, state = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True)
        return memory, state

    def decode(self, previous, state, memory, lengths):
        h, state = self.decoder(self.target_embed(previous), state)
        if self.attention:
            scores = torch.einsum("btk,bsk->bts", h, self.score(memory))
            mask = torch.arange(memory.shape[1])[None, None, :] >= lengths[:, None, None]
            weights = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
            context = torch.einsum("bts,bsk->btk", weights, memory)
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))
        return self.head(h), state


def batch(pairs, column, vocab):
    index = {t: i for i, t in enumerate(vocab)}
    rows = [[index[t] for t in p[column]] for p in pairs]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [0] * (width - len(r)) for r in rows]), torch.tensor([len(r) for r in rows])


def training_batch(rng, held, source_vocab, target_vocab):
    numbers = [n for n in data.random_numbers(rng, BATCH) if n not in held]
    pairs = [(data.english(n), [data.BOS] + data.french(n) + [data.EOS]) for n in numbers]
    source, lengths = batch(pairs, 0, source_vocab)
    target, _ = batch(pairs, 1, target_vocab)
    return source, lengths, target


def greedy(model, pairs, source_vocab, target_vocab):
    """Exact-match share of `pairs` (number, English, French) decoded greedily."""
    model.eval()
    with torch.no_grad():
        source, lengths = batch([(e,) for _, e, _ in pairs], 0, source_vocab)
        memory, state = model.encode(source, lengths)
        previous = torch.full((len(pairs), 1), target_vocab.index(data.BOS))
        out = []
        for _ in range(MAX_TARGET):
            logits, state = model.decode(previous, state, memory, lengths)
            previous = logits.argmax(-1)
            out.append(previous[:, 0])
        out = torch.stack(out, 1).tolist()
    eos = target_vocab.index(data.EOS)
    right = 0
    for row, (_, _, french) in zip(out, pairs):
        words = [target_vocab[t] for t in row[:row.index(eos)]] if eos in row else None
        right += words == french
    return right / len(pairs)


def to_layers(model):
    import recur
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}

    def lstm(prefix):
        return recur.LSTM(sd[f"{prefix}.weight_ih_l0"], sd[f"{prefix}.weight_hh_l0"],
                          sd[f"{prefix}.bias_ih_l0"], sd[f"{prefix}.bias_hh_l0"])
    encoder = [recur.Embedding(sd["source_embed.weight"]), lstm("encoder")]
    decoder = [recur.Embedding(sd["target_embed.weight"]), lstm("decoder")]
    if model.attention:
        decoder += [recur.Attention("general", HIDDEN, HIDDEN, weight=sd["score.weight"]),
                    recur.Dense(sd["combine.weight"], sd["combine.bias"], activation="tanh")]
    decoder.append(recur.Dense(sd["head.weight"], sd["head.bias"]))
    return encoder, decoder


def export(model, source_vocab, target_vocab, log):
    import recur
    import translate
    suffix = "-attention" if model.attention else ""
    encoder, decoder = to_layers(model)
    producer = f"examples/translate/train.py (torch {torch.__version__})"
    meta = {"source_vocab": " ".join(source_vocab), "target_vocab": " ".join(target_vocab),
            "task": "English number words to French (num2words, LGPL-2.1), data.py"}
    paths = here / f"encoder{suffix}.recur", here / f"decoder{suffix}.recur"
    recur.save(paths[0], encoder, producer=producer, metadata=meta)
    recur.save(paths[1], decoder, producer=producer, metadata=meta)
    # The held-out accuracies through Recur, written into the decoder's metadata.
    result = translate.evaluate(*paths, beam=1)
    beam = translate.evaluate(*paths, beam=4)
    meta.update({"heldout_exact_greedy": f"{result.exact:.4f}", "heldout_exact_beam4": f"{beam.exact:.4f}",
                 "heldout_exact_greedy_longest_fifth": f"{result.exact_longest:.4f}",
                 "heldout_exact_beam4_longest_fifth": f"{beam.exact_longest:.4f}"})
    recur.save(paths[1], decoder, producer=producer, metadata=meta)
    torch_exact = greedy(model, data.read_heldout(), source_vocab, target_vocab)
    log(f"held out through Recur: greedy {result.exact:.4f} (longest fifth {result.exact_longest:.4f}), "
        f"beam 4 {beam.exact:.4f} (longest fifth {beam.exact_longest:.4f}); PyTorch greedy {torch_exact:.4f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--attention", action="store_true")
    parser.add_argument("--export", metavar="CHECKPOINT")
    args = parser.parse_args()
    torch.set_num_threads(1)
    source_vocab, target_vocab = data.vocabularies()
    suffix = "-attention" if args.attention else ""
    (root / "out").mkdir(exist_ok=True)
    log_path = here / f"train-log{suffix}.txt"

    def log(line):
        print(line, flush=True)
        with open(log_path, "a") as f:
            f.write(line + "\n")

    torch.manual_seed(0)
    model = Translator(len(source_vocab), len(target_vocab), args.attention)
    if args.export:
        model.load_state_dict(torch.load(args.export))
        export(model, source_vocab, target_vocab, log)
        return
    log_path.write_text("")
    minutes = float(os.environ.get("TRAIN_MINUTES", "40"))
    held = set(data.heldout_numbers())
    rng = np.random.default_rng(1)
    validation = [(n, data.english(n), data.french(n))
                  for n in data.random_numbers(np.random.default_rng(3), 500) if n not in held]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    best, step, start = -1.0, 0, time.time()
    checkpoint = root / "out" / f"translate{suffix}.pt"
    while time.time() - start < minutes * 60:
        model.train()
        source, lengths, target = training_batch(rng, held, source_vocab, target_vocab)
        memory, state = model.encode(source, lengths)
        logits, _ = model.decode(target[:, :-1], state, memory, lengths)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(target_vocab)), target[:, 1:].reshape(-1),
                                           ignore_index=0)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 500 == 0:
            exact = greedy(model, validation, source_vocab, target_vocab)
            if exact > best:
                best = exact
                torch.save(model.state_dict(), checkpoint)
            else:
                for group in opt.param_groups:
                    group["lr"] = max(group["lr"] * 0.7, 1e-4)
            log(f"step {step}, {time.time() - start:.0f} s: loss {loss.item():.4f}, validation exact {exact:.3f}, "
                f"lr {opt.param_groups[0]['lr']:.2g}")
    model.load_state_dict(torch.load(checkpoint))
    log(f"{step} steps in {time.time() - start:.0f} s; best validation exact {best:.3f}; checkpoint {checkpoint}")
    export(model, source_vocab, target_vocab, log)


if __name__ == "__main__":
    main()
