"""What the ``gateway`` command modules share: the engine of the settings' database, whether
a person is watching (stderr is a terminal), the YYYY-MM-DD argument type, and the batch
commands' lower CPU priority."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import date

from sqlalchemy import Engine

from gateway.settings import Settings


def engine(settings: Settings) -> Engine:
    from gateway.db import make_engine

    return make_engine(settings.database_url)


def tty() -> bool:
    return sys.stderr.isatty()


def day_arg(text: str) -> date:
    """An argparse ``type``: a business day as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def batch_priority(settings: Settings) -> None:
    """Lower this process's CPU priority by ``settings.batch_nice`` (GATEWAY_BATCH_NICE):
    file ingests, pulls, register imports and the scheduler that runs them are batch work;
    on a host shared with ``gateway serve`` the bank API's requests get the CPU first (its
    posts' p99 during an ingest). Children (the parse worker) inherit it."""
    if settings.batch_nice > 0:
        with contextlib.suppress(OSError):  # not allowed here: the normal priority
            os.nice(settings.batch_nice)
