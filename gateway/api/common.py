"""What the bank API controllers share: running a service off the event loop, refusals, docs.

Controllers stay thin: they turn the request into a service call, run it in a worker thread
(the services are synchronous SQLAlchemy code), and turn a ``Refused`` into an ``ApiError``.
A refused money-changing request is still kept in ``api_requests`` (agent, body hash, body,
status) by ``refuse``; the log line carries the agent's name and the code, never personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Receive, Scope, Send
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from gateway.api.bounded import bounded, unavailable
from gateway.api.problems import ApiError, status_of
from gateway.api.structs import Problem, encoder
from gateway.dbhealth import note_write
from gateway.errors import Refused
from gateway.logging import get_logger
from gateway.problem import PROBLEM
from gateway.services.agents import AgentRecord
from gateway.services.payments import Audit, record_request
from gateway.writer import write_async

log = get_logger("gateway.api")
T = TypeVar("T")


class Json:
    """A finished JSON answer, returned by a handler as its own ASGI app: two messages.

    The body is encoded once by msgspec, the headers once (Litestar's ``Response`` redoes
    both per request: docs/perf.md). Handlers returning it declare their success body for
    the OpenAPI document in ``responses``. ``gateway.app`` still adds X-Request-Id.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, content: Any, status: int = 200, headers: dict[str, str] | None = None):
        self.body = encoder.encode(content)
        self.status = status
        self.headers = tuple((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = str(len(self.body)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": headers + list(self.headers),
            }
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def agent_of(request: Request) -> AgentRecord:
    """The agent that ``gateway.api.auth.authenticate`` let in."""
    return request.scope["state"]["agent"]


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous service in the worker thread pool."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


async def write_call(engine: Engine, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a writing service: on SQLite as a job of the event loop's group-committing writer
    (``gateway.writer.LoopWriter``), else in a worker thread. SQLite serializes
    writers anyway; a job there costs no thread hand-off and batches with its neighbours.
    Either way within a bounded time, or 503 with nothing stored (``gateway.api.bounded``).
    """
    if engine.dialect.name == "sqlite":
        job = partial(fn, engine, *args, **kwargs)
        return await bounded(engine, partial(write_async, engine), job)
    try:
        return await call(fn, engine, *args, **kwargs)
    except OperationalError as exc:  # PostgreSQL: lock_timeout, lost connection, disk full
        note_write(engine, exc)
        raise unavailable("the database cannot take the write now; nothing was stored") from None


async def read(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    """Run a read-only service: inline on SQLite, in a worker thread otherwise.

    A SQLite read is a fraction of a millisecond of local CPU that blocks on nothing (WAL
    readers never wait for the writer), so handing it to a thread costs more than the read
    itself and adds GIL hand-offs to every lookup; a PostgreSQL read waits on the network.
    """
    if engine.dialect.name == "sqlite":
        return fn(engine, *args)
    return await call(fn, engine, *args)


async def refuse(request: Request, exc: Refused, audit: Audit | None = None) -> ApiError:
    """Log (and, for money-changing requests, keep) a refusal; return the error to raise."""
    agent = agent_of(request)
    status = status_of(exc.code)
    if audit is not None:
        await write_call(request.app.state.engine, record_request, agent.id, audit, status)
    log.info("refused", agent=agent.name, code=exc.code, path=request.scope["path"][:80])
    return ApiError(exc.code, exc.detail, result=exc.result)


async def audit_of(request: Request) -> Audit:
    return Audit(request.method, request.scope["path"], await request.body())


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem documents a route can answer."""
    return {
        s: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM,
            description="problem+json with a code",
            generate_examples=False,
        )
        for s in statuses
    }
