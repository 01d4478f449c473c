"""The people's workspace as mounted by ``create_app``: one ``/app`` router and its static files.

To add pages (finance, the review actions' JSON API): write a module with Litestar handlers
or a Controller, list it in ``PAGE_MODULES`` (each exposes ``handlers``), add its navigation
entry to ``gateway.web.nav.NAV``, and guard what needs a role with
``guards=[requires(Role.X)]``. Everything under the router gets, without asking:

- the session guard (``gateway.web.auth.signed_in``), so ``who(request)`` is the person;
- CSRF protection on every unsafe request (Litestar's double-submit cookie, signed with the
  workspace secret): forms send ``{{ csrf_field() }}``, htmx sends the ``x-csrftoken``
  header from ``hx-headers`` on ``<body>``; the JSON API's clients send that header too;
- friendly error pages (``gateway.web.errors``), problem+json under ``/app/api``.

The bank API routers are not under it: no CSRF cookie and no session there.
"""

from __future__ import annotations

import importlib
import os
import secrets
from pathlib import Path

from litestar import Router, get
from litestar.config.csrf import CSRFConfig
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from gateway.settings import Settings
from gateway.web.auth import PREFIX, signed_in
from gateway.web.errors import html_error
from gateway.web.render import STATIC

CSRF_COOKIE = "plata_csrf"
PAGE_MODULES = [
    "gateway.web.pages.account",
    "gateway.web.pages.queue",
    "gateway.web.pages.finance",
    "gateway.web.pages.item",
    "gateway.web.pages.payment",
    "gateway.web.pages.reports",
    "gateway.web.pages.bulk",
    "gateway.web.pages.review_api",
]


def workspace_secret(settings: Settings) -> str:
    """The key that signs CSRF tokens: GATEWAY_SECRET_KEY, else DATA_DIR/web-secret.

    Every server process must use the same one; processes on one host share the file (created
    once, mode 0600); processes on several hosts set GATEWAY_SECRET_KEY.
    """
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process was first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


@get("/", include_in_schema=False, security=[{}])
async def root() -> Redirect:
    return Redirect(PREFIX + "/", status_code=302)


def handlers(settings: Settings) -> list:
    csrf = CSRFConfig(
        secret=workspace_secret(settings),
        cookie_name=CSRF_COOKIE,
        cookie_path=PREFIX,
        cookie_secure=settings.https,
        cookie_httponly=True,
        cookie_samesite="lax",
    )
    pages: list = []
    for name in PAGE_MODULES:
        pages.extend(importlib.import_module(name).handlers)
    app_router = Router(
        PREFIX,
        route_handlers=pages,
        guards=[signed_in],
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
        exception_handlers={Exception: html_error},
        include_in_schema=False,
        security=[{}],
    )
    static = create_static_files_router(
        path=PREFIX + "/static",
        directories=[STATIC],
        include_in_schema=False,
        cache_control=None,
        opt={"public": True},
    )
    return [root, app_router, static]
