"""A bank API write is committed within a bounded time, or answered 503 and never committed.

When SQLite's write lock is held elsewhere (an ingest round, another process, a backup),
a post used to wait for minutes and was committed long after its client had given up: a
bank that retried with a new id paid twice. Now every write of a request carries a deadline
(``Settings.write_timeout``, 5 s by default):

- a job still queued at its deadline is cancelled (it will not run) and the request is
  answered 503 ``UNAVAILABLE`` with ``Retry-After``;
- a job that has started runs to its commit (a started job holds the lock and takes
  milliseconds), and the request gets its real answer;
- the database's own refusal (SQLite "database is locked" after its busy wait, a full disk)
  is a 503 too, and a storage failure is remembered for ``/health``.

On SQLite the jobs run on the event loop (``LoopWriter``), as does the deadline's timer, so
"cancelled before it started" and "started" cannot race. On PostgreSQL a post runs in a
worker thread; there the database's ``lock_timeout`` (set to the same bound on the app's
connections) ends a wait, and the transaction rolls back by itself.
"""

from __future__ import annotations

import asyncio
import enum
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from gateway.api.problems import ApiError
from gateway.dbhealth import note_write

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0
#: What a 503 asks the client to wait before its retry (seconds).
RETRY_AFTER = 2

_timeouts: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


class _State(enum.Enum):
    PENDING = "pending"
    STARTED = "started"
    CANCELLED = "cancelled"


class WriteTimeout(Exception):
    """The write did not start within its deadline; it has been cancelled."""


def configure(engine: Engine, timeout: float) -> None:
    """The bound for this engine's API writes (``create_app`` sets it from Settings)."""
    _timeouts[engine] = timeout


def timeout_of(engine: Engine) -> float:
    return _timeouts.get(engine, DEFAULT_TIMEOUT)


def unavailable(detail: str) -> ApiError:
    return ApiError("UNAVAILABLE", detail, headers={"Retry-After": str(RETRY_AFTER)})


async def bounded(
    engine: Engine,
    submit: Callable[[Callable[[Any], T]], Awaitable[T]],
    job: Callable[[], T],
) -> T:
    """``submit(wrapped job)`` with the engine's deadline; 503 when it cannot be met."""
    state = [_State.PENDING]

    def run(_conn: Any) -> T:
        if state[0] is _State.CANCELLED:
            raise WriteTimeout
        state[0] = _State.STARTED
        return job()

    fut = asyncio.ensure_future(submit(run))
    try:
        result = await asyncio.wait_for(asyncio.shield(fut), timeout_of(engine))
    except TimeoutError:
        if state[0] is _State.PENDING:
            state[0] = _State.CANCELLED
            fut.add_done_callback(_quiet)
            raise unavailable("the database is busy; nothing was stored, retry") from None
        result = await _settled(engine, fut)  # started: its commit is on its way
    except OperationalError as exc:
        note_write(engine, exc)
        raise unavailable("the database cannot take the write now; nothing was stored") from None
    else:
        note_write(engine, None)
    return result


async def _settled(engine: Engine, fut: asyncio.Future[T]) -> T:
    try:
        out = await fut
    except OperationalError as exc:
        note_write(engine, exc)
        raise unavailable("the database cannot take the write now; nothing was stored") from None
    note_write(engine, None)
    return out


def _quiet(fut: asyncio.Future[Any]) -> None:
    """A cancelled job's outcome (WriteTimeout) is nobody's concern any more."""
    if not fut.cancelled():
        fut.exception()
