"""Database errors as log text without the data they quote.

A driver's error message quotes values: PostgreSQL's ``CONTEXT: COPY payments, line 5,
column debtor_name: "<the payer's name>"``, ``DETAIL: Key (...)=(...)``, ``invalid input
syntax for type ...: "<value>"``; SQLAlchemy adds the statement's parameters. All of it is
personal data that must not reach a log line. So every exception logged (structlog's
``exc_info`` and the standard library's handlers alike) is rendered through
``format_exception``: the traceback's frames as usual, but the text of any database error
in the chain reduced to its class, SQLSTATE and first line with quoted values replaced by
``"…"``. Engines are also built with ``hide_parameters=True`` (``gateway.db``).
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

from structlog.typing import EventDict, WrappedLogger

_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|\([^()]*\)=\([^()]*\)")
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _is_db_error(exc: BaseException) -> bool:
    """A DBAPI error of any driver, or SQLAlchemy's wrapper of one (by module, so this
    needs neither sqlite3 nor psycopg imported)."""
    module = type(exc).__module__ or ""
    return module.startswith(("sqlite3", "psycopg", "sqlalchemy.exc")) or module == "_sqlite3"


def redacted_message(exc: BaseException) -> str:
    """``Class [SQLSTATE]: first line`` with every quoted value replaced by "…"."""
    inner = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper: the driver's error
    state = getattr(inner, "sqlstate", None) or getattr(inner, "sqlite_errorname", None)
    first = (str(inner).strip().splitlines() or [""])[0]
    text = _QUOTED.sub('"…"', first)[:200]
    label = type(inner).__name__ + (f" [{state}]" if state else "")
    return f"{label}: {text}" if text else label


def format_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes; database errors' texts redacted."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    for i, e in enumerate(reversed(chain)):
        if i:
            parts.append("\nThe above exception led to the following one:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(e.__traceback__))
        if _is_db_error(e):
            parts.append(redacted_message(e) + "\n")
        else:
            parts.extend(traceback.format_exception_only(type(e), e))
    return "".join(parts).rstrip("\n")


def redact_exc_info(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """structlog processor, before ``format_exc_info``: the exception rendered redacted."""
    exc_info = event.pop("exc_info", None)
    if exc_info is None or exc_info is False:
        return event
    exc: BaseException | None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        import sys

        exc = sys.exc_info()[1]
    if exc is not None:
        event["exception"] = format_exception(exc)
    return event


class RedactingFormatter(logging.Formatter):
    """The standard library's formatter with exceptions rendered by ``format_exception``."""

    def formatException(self, ei: ExcInfo | tuple[None, None, None]) -> str:
        return format_exception(ei[1]) if ei and ei[1] is not None else ""
