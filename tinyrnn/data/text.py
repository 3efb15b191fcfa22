"""The chapter's text preprocessing: lowercase, drop ``<br />`` tags, strip punctuation, split."""
from __future__ import annotations

import re
import string

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def preprocess(text: str) -> str:
    """Lowercase, replace ``<br />`` tags and punctuation by spaces."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _BR.sub(" ", text.lower()).translate(_PUNCT)


def tokenize(text: str) -> list[str]:
    """Preprocess and split on whitespace; empty tokens are dropped."""
    return preprocess(text).split()
