"""Embedding: a lookup table of token vectors."""
from __future__ import annotations

from . import functional as F
from .init import _check_size, normal
from .module import Module


class Embedding(Module):
    """Rows of ``weight`` (num_embeddings, embedding_dim), initialised N(0, 1).

    With ``padding_idx`` that row starts at zero and never receives a gradient, so padding
    tokens stay neutral.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings = _check_size("num_embeddings", num_embeddings)
        self.embedding_dim = _check_size("embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx must lie in [-{num_embeddings}, "
                                 f"{num_embeddings - 1}], got {padding_idx}")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
