"""The HTTP application, built by ``create_app(settings)``: the composition root for the web.

Everything the handlers need (engine, settings) lives on ``app.state``, created here and not
at import time, so tests can build several apps against different databases. Unexpected
errors are logged with their traceback and answered as a problem+json 500 that carries only
the request id (an error page under ``/app``: ``gateway.web.errors``): no traceback ever
reaches a client. The people's workspace is mounted from ``gateway.web.routes``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import Engine

from gateway.db import make_engine, ping
from gateway.dbhealth import cannot_write
from gateway.logging import get_logger, request_id
from gateway.problem import problem
from gateway.settings import Settings
from gateway.web.errors import html_error, is_page_path
from reconciliation.allocate import AllocationPolicy

log = get_logger("gateway.http")


def request_ids() -> Callable[[ASGIApp], ASGIApp]:
    """A middleware factory: a request id on every log line of the request and in X-Request-Id.

    The id is this app's random prefix and a counter (16 hex characters, unique per process
    and, by the prefix, across processes), not ``uuid4``: no syscall per request
    (docs/perf.md). It is set in ``gateway.logging.request_id``, read only by lines that are
    actually emitted.
    """
    prefix = os.urandom(4).hex()
    counter = itertools.count()

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            rid = f"{prefix}{next(counter) & 0xFFFFFFFF:08x}"
            header = (b"x-request-id", rid.encode())
            scope.setdefault("state", {})["request_id"] = rid

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            token = request_id.set(rid)
            try:
                await app(scope, receive, send_with_id)
            finally:
                request_id.reset(token)

        return middleware

    return factory


def _http_exception(request: Request, exc: HTTPException) -> Response:
    if is_page_path(request.url.path):  # e.g. a page that does not exist: a friendly 404
        return html_error(request, exc)
    code = getattr(exc, "code", None) or {
        400: "BAD_REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        429: "RATE_LIMITED",
    }.get(exc.status_code, "ERROR")
    extra = getattr(exc, "extra", None)
    return problem(
        exc.status_code, code, str(exc.detail), **(extra if isinstance(extra, dict) else {})
    )


def _too_deep(request: Request, exc: RecursionError) -> Response:
    """A body nested deeper than the decoder goes (msgspec stops at its recursion limit):
    the client's fault, a 400 like any other malformed body; any other RecursionError is
    ours and answered as one."""
    if "deserializing" not in str(exc):
        return _unexpected(request, exc)
    return problem(400, "VALIDATION_ERROR", "request body is nested too deeply", result=300)


def _unexpected(request: Request, exc: Exception) -> Response:
    if is_page_path(request.url.path):
        return html_error(request, exc)
    rid = request.scope.get("state", {}).get("request_id")
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return problem(500, "INTERNAL_ERROR", "internal error; quote the request id", request_id=rid)


@get("/health", media_type=MediaType.JSON, sync_to_thread=True, security=[{}])
def health(state: State) -> Response:
    """200 when the database answers and can take a write (``gateway.dbhealth``), else 503
    with the reason."""
    if not ping(state.engine):
        return Response({"status": "unavailable", "database": "not answering"}, status_code=503)
    problem_ = cannot_write(state.engine)
    if problem_ is not None:
        return Response({"status": "unavailable", "database": problem_}, status_code=503)
    return Response({"status": "ok"}, status_code=200)


def _pg_bounds(settings: Settings) -> dict:
    """PostgreSQL: no statement of the app waits for a lock longer than a post may take."""
    if not settings.database_url.startswith(("postgres", "postgresql")):
        return {}
    ms = int(settings.write_timeout * 1000)
    return {"connect_args": {"options": f"-c lock_timeout={ms}"}}


def _policy(settings: Settings) -> AllocationPolicy:
    """The TOML's ``[allocation]``, read once at start-up (a broken file stops the start)."""
    from connectors.config import load_file

    return load_file(settings).allocation


def create_app(settings: Settings, engine: Engine | None = None) -> Litestar:
    engine = engine or make_engine(settings.database_url, **_pg_bounds(settings))
    from gateway.api.bounded import configure

    configure(engine, settings.write_timeout)
    from gateway.api import routes as api_routes
    from gateway.web import render as web_render
    from gateway.web import routes as web_routes

    return Litestar(
        route_handlers=[health, *api_routes.handlers(), *web_routes.handlers(settings)],
        template_config=web_render.template_config(settings.timezone),
        middleware=[request_ids()],
        exception_handlers={
            HTTPException: _http_exception,
            RecursionError: _too_deep,
            Exception: _unexpected,
        },
        state=State(
            {"engine": engine, "settings": settings, "allocation_policy": _policy(settings)}
        ),
        openapi_config=OpenAPIConfig(
            title="Plata gateway",
            version="1.0.0",
            path="/schema",
            description="Plata Facturilor: real-time invoice lookup and payment for banks.",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http", scheme="bearer", description="<key_id>.<secret>"
                    ),
                    "apiKeyHeader": SecurityScheme(
                        type="apiKey", name="X-API-Key", security_scheme_in="header"
                    ),
                    # the workspace JSON API (/app/api): a person's session, plus the CSRF
                    # header x-csrftoken on every POST
                    "session": SecurityScheme(
                        type="apiKey", name="plata_session", security_scheme_in="cookie"
                    ),
                }
            ),
            security=[{"apiKey": []}, {"apiKeyHeader": []}],
        ),
        debug=False,
    )
