"""Vocabulary: token <-> index, with ``<unk>`` and ``<pad>``."""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter

import numpy as np

UNK, PAD = "<unk>", "<pad>"


class Vocab:
    """Index 0 is ``<unk>`` and 1 is ``<pad>``; then tokens by falling frequency (ties in
    alphabetical order, so a vocabulary is reproducible).

    ``Vocab.build(token_lists, max_size=25000, min_freq=1)``; ``stoi``/``itos``;
    ``encode(tokens)`` maps unknown tokens to ``<unk>``.
    """

    def __init__(self, itos):
        itos = list(itos)
        if itos[:2] != [UNK, PAD]:
            raise ValueError(f"a vocabulary must start with {UNK!r}, {PAD!r}")
        if len(set(itos)) != len(itos):
            raise ValueError("vocabulary tokens must be unique")
        self.itos = itos
        self.stoi = {t: i for i, t in enumerate(itos)}

    @classmethod
    def build(cls, token_lists, max_size: int | None = 25000, min_freq: int = 1) -> "Vocab":
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        counts = Counter(t for tokens in token_lists for t in tokens)
        for special in (UNK, PAD):
            counts.pop(special, None)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq),
                        key=lambda t: (-counts[t], t))
        return cls([UNK, PAD] + ranked[:max_size])

    @property
    def unk_index(self) -> int:
        return 0

    @property
    def pad_index(self) -> int:
        return 1

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def encode(self, tokens) -> np.ndarray:
        return np.array([self.stoi.get(t, 0) for t in tokens], dtype=np.int64)

    def decode(self, indices) -> list[str]:
        return [self.itos[i] for i in indices]

    def save(self, path) -> None:
        """Write the token list as JSON, atomically."""
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.itos, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path) -> "Vocab":
        with open(path, encoding="utf-8") as f:
            itos = json.load(f)
        if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
            raise ValueError(f"{path!r} is not a saved Vocab (a JSON list of tokens)")
        return cls(itos)
