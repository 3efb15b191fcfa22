"""Progress for the long commands: a tqdm bar on a terminal when tqdm is installed
(``pip install tqdm``), otherwise one line on stderr per stage.

Both go to stderr, so a command's results on stdout stay clean to pipe or parse.
"""
from __future__ import annotations

import sys


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _bars() -> bool:
    """Bars only on a terminal: in a log file they are noise, a line per stage is not."""
    return _tqdm() is not None and sys.stderr.isatty()


def stage(message: str, enabled: bool = True) -> None:
    """One line on stderr saying what starts now (printed above any bar)."""
    if not enabled:
        return
    if _bars():
        _tqdm().write(f"tinyrnn: {message}", file=sys.stderr)
    else:
        print(f"tinyrnn: {message}", file=sys.stderr, flush=True)


def progress(iterable, description: str, enabled: bool = True, total: int | None = None):
    """``iterable`` under a tqdm bar; without one, a single stage line when it starts."""
    if not enabled:
        return iterable
    if _bars():
        return _tqdm()(iterable, desc=description, total=total, leave=False, file=sys.stderr)
    stage(description)
    return iterable
