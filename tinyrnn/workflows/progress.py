"""Progress bars from tqdm when it is installed (``pip install tqdm``); plain loops otherwise."""
from __future__ import annotations

import sys


def progress(iterable, description: str, enabled: bool = True):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=description, leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty())
