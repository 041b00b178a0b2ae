"""English number words to French number words: the translation task of
the bundled translators (the survey's §4.2).

Both sides come from num2words (PyPI, LGPL-2.1; its English and French
rules), for whole numbers below 10^24. A number's English words are the
source sentence and its French words the target:

    nine hundred and eighty-seven billion , six hundred and fifty-four million , ...
    neuf cent quatre - vingt - sept milliards six cent cinquante - quatre millions ...

Words are tokens; hyphens and commas are tokens of their own. Most of the
task is monotone, but not word for word: "seventy-one" is "soixante et
onze", "eighty" is "quatre - vingts" (with an s only when nothing follows),
"two hundred" is "deux cents" but "two hundred and one" is "deux cent un",
"one thousand" is "mille" and "one million" "un million"; and English
counts large numbers on the short scale, French on the long one, so
"billion" is "milliard", "trillion" is "billion", "quadrillion" is
"billiard", "quintillion" is "trillion" and "sextillion" is "trilliard".
Long numbers (up to 24 digits: about 70 tokens either side) are where a
single fixed-length vector struggles.

The held-out numbers (HELD_OUT of them, 4 to 24 digits, the digit count
uniform) are drawn once from a fixed seed; training never sees them.
`python data.py` writes them to heldout.tsv (number, English, French),
which the C++ example and `make test` read without num2words.
"""
import sys
from pathlib import Path

import numpy as np

HELD_OUT = 2000
MAX_DIGITS = 24
PAD, BOS, EOS = "<pad>", "<s>", "</s>"
here = Path(__file__).resolve().parent


def tokens(words):
    """num2words' text as tokens: words, with each hyphen and comma a token."""
    return words.replace("-", " - ").replace(",", " , ").split()


def english(n):
    from num2words import num2words
    return tokens(num2words(int(n), lang="en"))


def french(n):
    from num2words import num2words
    return tokens(num2words(int(n), lang="fr"))


def random_numbers(rng, count, min_digits=1):
    """`count` numbers whose digit count is uniform in min_digits..MAX_DIGITS
    (Python integers: 24 digits do not fit in 64 bits)."""
    numbers = []
    for digits in rng.integers(min_digits, MAX_DIGITS + 1, size=count):
        values = rng.integers(0, 10, size=digits)
        if digits > 1:
            values[0] = rng.integers(1, 10)
        numbers.append(int("".join(map(str, values))))
    return numbers


def heldout_numbers():
    rng = np.random.default_rng(2026)
    chosen, seen = [], set()
    while len(chosen) < HELD_OUT:
        for n in random_numbers(rng, HELD_OUT, min_digits=4):
            if n not in seen and len(chosen) < HELD_OUT:
                seen.add(n)
                chosen.append(n)
    return chosen


def vocabularies():
    """Every token either side can produce, in a fixed order (special tokens first)."""
    rng = np.random.default_rng(7)
    numbers = list(range(1000)) + [10 ** k for k in range(MAX_DIGITS)] + random_numbers(rng, 20000)
    source, target = set(), set()
    for n in numbers:
        source.update(english(n))
        target.update(french(n))
    return [PAD, BOS, EOS] + sorted(source), [PAD, BOS, EOS] + sorted(target)


def read_heldout(path=here / "heldout.tsv"):
    rows = [line.split("\t") for line in Path(path).read_text().splitlines()]
    return [(int(n), e.split(), f.split()) for n, e, f in rows]


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "heldout.tsv"
    lines = [f"{n}\t{' '.join(english(n))}\t{' '.join(french(n))}" for n in heldout_numbers()]
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} held-out pairs in {out}")


if __name__ == "__main__":
    main()
