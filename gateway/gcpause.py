"""Pausing Python's cyclic garbage collector around bulk work.

A register import or a day's statement builds millions of small tuples and records with no
cycles among them. Each allocation burst triggers collections that walk every live object
and can free nothing (about a tenth of an ingest's time), so bulk jobs pause the collector
and let reference counting do the freeing. Nothing else changes: cycles made meanwhile are
collected once the collector runs again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the block, then back as it was (nesting is safe)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
