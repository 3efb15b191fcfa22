"""Movie-review corpora: the aclImdb folder layout, CSV files, and a synthetic corpus.

aclImdb layout: ``ROOT/{train,test}/{pos,neg}/*.txt``, one review per file.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

CLASSES = ("neg", "pos")  # label 0, label 1


def load_aclimdb(root, split: str = "train"):
    """(texts, labels) of one split; labels are 0 (neg) and 1 (pos), in file-name order."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    texts, labels = [], []
    for label, name in enumerate(CLASSES):
        folder = Path(root) / split / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is missing: an aclImdb-layout corpus has "
                                    f"{split}/pos and {split}/neg folders of .txt reviews")
        for path in sorted(folder.glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    if not texts:
        raise ValueError(f"no reviews found under {Path(root) / split}")
    return texts, np.array(labels, dtype=np.int64)


_LABEL_NAMES = {"0": 0, "neg": 0, "negative": 0, "1": 1, "pos": 1, "positive": 1}


def load_csv(path, text_column: str = "review", label_column: str = "sentiment"):
    """(texts, labels) from a CSV with a text column and a label column whose values are
    0/1, neg/pos or negative/positive (case-insensitive)."""
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for column in (text_column, label_column):
            if column not in (reader.fieldnames or []):
                raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            raw = row[label_column].strip().lower()
            if raw not in _LABEL_NAMES:
                raise ValueError(f"{path}:{line}: label {row[label_column]!r} is not one of "
                                 "0/1, neg/pos, negative/positive")
            texts.append(row[text_column])
            labels.append(_LABEL_NAMES[raw])
    if not texts:
        raise ValueError(f"{path}: no rows")
    return texts, np.array(labels, dtype=np.int64)


# --------------------------------------------------------------------------- synthetic

POSITIVE = ("good great excellent wonderful superb brilliant amazing enjoyable delightful "
            "moving charming masterpiece fantastic beautiful touching hilarious gripping "
            "memorable perfect loved stunning clever fun heartfelt outstanding").split()
NEGATIVE = ("bad awful terrible boring dull waste horrible poor worst stupid mess "
            "disappointing lame tedious pointless annoying weak forgettable hated ridiculous "
            "clumsy predictable bland painful unwatchable").split()
_COMMON = ("the a an and of to in is it this that was with for as on but his her they "
           "movie film story plot actor actress scene director character ending music "
           "camera script role cast time people really just about some very").split()


_VERDICTS = [("overall", "it", "was"), ("all", "in", "all", "a"), ("in", "short", "it", "is"),
             ("my", "verdict"), ("to", "sum", "up")]


def _neutral_words(rng, n=1500):
    syllables = ["ka", "lo", "mi", "re", "tu", "sa", "ne", "vi", "do", "ra", "pe", "li",
                 "mo", "ta", "ze", "fu", "gi", "ba", "co", "du"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables, size=rng.integers(2, 4))))
    return sorted(words) + _COMMON * 20  # common words are frequent


def synthetic_review(rng, label, neutral, min_len=40, max_len=160):
    """One review: filler sentences with sentiment words, mostly of the review's class,
    ending, as reviews tend to, with a verdict.

    Each sentiment word agrees with the label with probability 0.75, the verdict's with
    0.9; 15% of them are negated ("not good" counts as negative), so counting words is not
    enough and some reviews are ambiguous.
    """
    n = int(rng.integers(min_len, max_len + 1))
    tokens = list(rng.choice(neutral, size=n))
    for _ in range(int(rng.integers(3, 8))):
        agree = rng.random() < 0.75
        positive = (label == 1) == agree
        negate = rng.random() < 0.15
        if negate:
            positive = not positive
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        pos = int(rng.integers(0, len(tokens) + 1))
        tokens[pos:pos] = ["not", word] if negate else [word]
    positive = (label == 1) == (rng.random() < 0.9)
    negate = rng.random() < 0.15
    word = rng.choice(POSITIVE if positive != negate else NEGATIVE)
    tokens += list(_VERDICTS[rng.integers(len(_VERDICTS))]) + (["not", word] if negate else [word])
    words, out = tokens, []
    i = 0
    while i < len(words):  # sentences with capitals, punctuation and <br /> tags
        k = int(rng.integers(5, 16))
        sentence = " ".join(words[i:i + k])
        out.append(sentence[:1].upper() + sentence[1:] + rng.choice([".", "!", "...", "?"]))
        if rng.random() < 0.1:
            out.append("<br /><br />")
        i += k
    return " ".join(out)


def make_synthetic_imdb(root, n_train: int = 1500, n_test: int = 600, seed: int = 0,
                        min_len: int = 40, max_len: int = 160):
    """Write a deterministic synthetic review corpus in the aclImdb layout under ``root``
    (balanced classes); returns ``root``. The same seed always gives the same files."""
    rng = np.random.default_rng(seed)
    neutral = _neutral_words(rng)
    for split, n in (("train", n_train), ("test", n_test)):
        for label, name in enumerate(CLASSES):
            folder = Path(root) / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n // 2 + (label == 1) * (n % 2)):
                text = synthetic_review(rng, label, neutral, min_len, max_len)
                (folder / f"{i}_{7 + 3 * label}.txt").write_text(text, encoding="utf-8")
    return os.fspath(root)
