"""What the ``gateway`` command modules share: the engine of the settings' database, whether
a person is watching (stderr is a terminal), and the YYYY-MM-DD argument type."""

from __future__ import annotations

import argparse
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
