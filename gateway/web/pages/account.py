"""Signing in and out, and changing one's password.

A successful log-in always opens a new session (a token chosen before log-in is never
promoted), then goes to the page asked for (a path inside ``/app`` only) or, with a one-time
password, to the password page first.
"""

from __future__ import annotations

import anyio.to_thread
from litestar import Request, get, post
from litestar.response import Redirect, Template

from gateway.errors import UserError
from gateway.services.sessions import close_session, open_session, purge_expired
from gateway.services.users import LoginRefused, authenticate, change_password
from gateway.web.auth import (
    PREFIX,
    SESSION_COOKIE,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
    settings_of,
    who,
)
from gateway.web.render import flash, page, see_other

PUBLIC = {"public": True}


@get("/", opt=PUBLIC, include_in_schema=False)
async def home(request: Request) -> Redirect:
    return see_other(
        f"{PREFIX}/queue" if request.cookies.get(SESSION_COOKIE) else f"{PREFIX}/login"
    )


@get("/login", opt=PUBLIC, include_in_schema=False)
async def login_form(request: Request) -> Template:
    target = safe_next(request.query_params.get("next"))
    return page(request, "login.html", title="Sign in", next=target, error=None)


@post("/login", opt=PUBLIC, include_in_schema=False)
async def login(request: Request) -> Template | Redirect:
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    settings = settings_of(request)
    engine = request.app.state.engine
    try:
        user = await anyio.to_thread.run_sync(
            lambda: authenticate(
                engine,
                username,
                password,
                max_failures=settings.login_max_failures,
                lock_minutes=settings.login_lock_minutes,
            )
        )
    except LoginRefused as exc:
        return page(
            request, "login.html", title="Sign in", next=target, error=str(exc),
            username=username, status=401,
        )  # fmt: skip

    def start() -> str:
        purge_expired(
            engine,
            idle_minutes=settings.session_idle_minutes,
            max_hours=settings.session_max_hours,
        )
        return open_session(engine, user.id)

    token = await anyio.to_thread.run_sync(start)
    response = see_other(f"{PREFIX}/password" if user.must_change_password else target)
    set_session_cookie(response, request, token)
    return response


@post("/logout", opt={"allow_unchanged": True}, include_in_schema=False)
async def logout(request: Request) -> Redirect:
    token = request.cookies.get(SESSION_COOKIE, "")
    await anyio.to_thread.run_sync(close_session, request.app.state.engine, token)
    response = see_other(f"{PREFIX}/login")
    clear_session_cookie(response, request)
    return response


@get("/password", opt={"allow_unchanged": True}, include_in_schema=False)
async def password_form(request: Request) -> Template:
    return page(request, "password.html", title="Change password", error=None)


@post("/password", opt={"allow_unchanged": True}, include_in_schema=False)
async def password_change(request: Request) -> Template | Redirect:
    form = await request.form()
    person = who(request)
    current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
    try:
        if new != again:
            raise UserError("the two new passwords differ")
        await anyio.to_thread.run_sync(
            change_password, request.app.state.engine, person.user_id, current, new
        )
    except UserError as exc:
        return page(request, "password.html", title="Change password", error=str(exc), status=400)
    await flash(request, "success", "Password changed.")
    return see_other(f"{PREFIX}/queue")


handlers = [home, login_form, login, logout, password_form, password_change]
