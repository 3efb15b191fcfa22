"""Numericalised sequences into padded batches, bucketed by length, in a seeded order."""
from __future__ import annotations

import numpy as np


def pad_batch(sequences, pad_index: int = 1, max_len: int | None = None):
    """(B, T) int64 array padded with ``pad_index`` and the (B,) lengths (>= 1).

    Sequences longer than ``max_len`` are cut; an empty sequence becomes one pad token so
    that every length is at least 1 (an RNN needs one step).
    """
    seqs = [np.asarray(s, dtype=np.int64)[:max_len] for s in sequences]
    if not seqs:
        raise ValueError("sequences must not be empty")
    lengths = np.array([max(len(s), 1) for s in seqs], dtype=np.int64)
    out = np.full((len(seqs), int(lengths.max())), pad_index, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths


def train_valid_split(n: int, valid_frac: float = 0.2, seed: int = 0):
    """Shuffled index arrays (train, valid) for n examples."""
    if not 0 < valid_frac < 1:
        raise ValueError(f"valid_frac must be in (0, 1), got {valid_frac}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = max(1, int(round(n * valid_frac)))
    return order[n_valid:], order[:n_valid]


class BucketIterator:
    """Batches of similar lengths (little padding) in a fresh seeded order each epoch.

    Examples are sorted by length inside chunks of ``batch_size * 50`` shuffled ones, cut
    into batches, and the batches shuffled: each batch holds similar lengths, and no two
    epochs see the same order. Yields ``(tokens (B, T), lengths (B,), labels (B,))``.
    """

    def __init__(self, sequences, labels, batch_size: int = 32, shuffle: bool = True,
                 seed: int = 0, pad_index: int = 1, max_len: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(sequences) != len(labels):
            raise ValueError(f"sequences and labels must have the same length, got "
                             f"{len(sequences)} and {len(labels)}")
        self.sequences, self.labels = list(sequences), np.asarray(labels, dtype=np.int64)
        self.batch_size, self.shuffle, self.pad_index = batch_size, shuffle, pad_index
        self.max_len = max_len
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.sequences) // self.batch_size)

    def _batches(self):
        n = len(self.sequences)
        if not self.shuffle:
            return [np.arange(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size)]
        order = self._rng.permutation(n)
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, n, chunk):
            part = order[start:start + chunk]
            part = part[np.argsort([len(self.sequences[i]) for i in part], kind="stable")]
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        return [batches[i] for i in self._rng.permutation(len(batches))]

    def __iter__(self):
        for idx in self._batches():
            tokens, lengths = pad_batch([self.sequences[i] for i in idx], self.pad_index,
                                        self.max_len)
            yield tokens, lengths, self.labels[idx]
