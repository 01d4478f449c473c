"""Who is asking, for every page and workspace API route: session guard and role guards.

Every handler under ``/app`` is behind ``signed_in`` (a router guard): it reads the session
cookie, loads the session from the database (``gateway.services.sessions``) and puts the
``SignedIn`` person in the request's scope state, where ``who(request)`` finds it. A handler
marked ``opt={"public": True}`` (log-in, error pages) needs no session; one marked
``opt={"allow_unchanged": True}`` is reachable while the one-time password is unchanged.
Role guards: ``guards=[requires(Role.ACCOUNTANT)]`` on a handler or controller.

The bank API never looks at this cookie and these guards never look at API keys: an agent
key opens no page and a session opens no bank API route.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from gateway.services.people import Role
from gateway.services.sessions import SignedIn, load_session
from gateway.settings import Settings

SESSION_COOKIE = "plata_session"
PREFIX = "/app"


class LoginRequired(NotAuthorizedException):
    """No valid session: pages redirect to the log-in form, the API answers 401."""


class PasswordChangeRequired(PermissionDeniedException):
    """Signed in with a one-time password: only the password page is open."""


def settings_of(connection: ASGIConnection) -> Settings:
    return connection.app.state.settings


async def signed_in(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Router guard: a valid session, unless the handler is public."""
    if handler.opt.get("public"):
        return
    token = connection.cookies.get(SESSION_COOKIE, "")
    settings = settings_of(connection)
    found = None
    if token:
        found = await anyio.to_thread.run_sync(
            lambda: load_session(
                connection.app.state.engine,
                token,
                idle_minutes=settings.session_idle_minutes,
                max_hours=settings.session_max_hours,
            )
        )
    if found is None:
        raise LoginRequired("sign in first")
    connection.scope.setdefault("state", {})["signed_in"] = found
    if found.must_change_password and not handler.opt.get("allow_unchanged"):
        raise PasswordChangeRequired("change your one-time password first")


def who(connection: ASGIConnection) -> SignedIn:
    """The signed-in person of a request that passed ``signed_in``."""
    found = connection.scope.get("state", {}).get("signed_in")
    if found is None:
        raise LoginRequired("sign in first")
    return found


def maybe_who(connection: ASGIConnection) -> SignedIn | None:
    return connection.scope.get("state", {}).get("signed_in")


def requires(*roles: Role) -> Any:
    """A guard admitting people whose role includes one of ``roles`` (see ``Role``)."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        person = who(connection)
        if not any(person.actor.allows(r) for r in roles):
            needed = " or ".join(r.value for r in roles)
            raise PermissionDeniedException(f"this needs the {needed} role; you are {person.role}")

    return guard


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).https,
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)


def safe_next(target: str | None) -> str:
    """Only a path inside the workspace: never an open redirect to another site."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return PREFIX + "/"
