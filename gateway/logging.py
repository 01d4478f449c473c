"""structlog configured once: JSON lines when not on a terminal, readable on one.

The HTTP middleware sets the request id in one ``ContextVar`` (``request_id``), and a
processor adds it to a line only when a line is actually emitted: a request that logs nothing
pays for one ``ContextVar.set``, not for binding and merging a structlog context.

Personal data (payer names, addresses, free-text remittances) is never passed to the logger:
log ids and codes, not people. Database errors quote values (a COPY error quotes the row),
so every logged exception is rendered through ``gateway.redact``.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

import structlog
from structlog.typing import EventDict, WrappedLogger

from gateway.redact import RedactingFormatter, redact_exc_info

_configured = False
#: The id of the HTTP request being handled by this task, set by ``gateway.app``.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Put the current request's id on the line (runs only for lines that pass the level)."""
    rid = request_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    return event


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    global _configured
    if json is None:
        json = not sys.stderr.isatty()
    processors: list = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    for handler in logging.getLogger().handlers:  # uvicorn's, apscheduler's tracebacks too
        handler.setFormatter(RedactingFormatter("%(message)s"))
    for noisy in ("alembic", "httpx", "paramiko", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*processors, redact_exc_info, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
