"""Friendly error pages: no traceback ever reaches a person.

``html_error`` answers any exception raised under ``/app``: a missing session redirects to
the log-in form (``?next=`` the page asked for), a one-time password to the password page,
a refusal or a missing thing renders ``error.html`` with its one-line reason and the status,
anything unexpected is logged with its traceback and shown as "something went wrong" with
the request id to quote. The workspace JSON API (``/app/api``) gets problem+json instead.
An htmx request gets only the message (``_error.html``), which ``app.js`` shows as a toast.
"""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect

from gateway.errors import Conflict, Forbidden, NotFound, UserError
from gateway.logging import get_logger
from gateway.web.auth import PREFIX, LoginRequired, PasswordChangeRequired
from gateway.web.render import is_htmx, page

log = get_logger("gateway.web")
API_PREFIX = PREFIX + "/api"

TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Someone else was first",
    500: "Something went wrong",
}


def is_page_path(path: str) -> bool:
    """Under the workspace and not its JSON API: errors render as pages."""
    return (path == PREFIX or path.startswith(PREFIX + "/")) and not path.startswith(API_PREFIX)


def status_of(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    for kind, status in ((NotFound, 404), (Forbidden, 403), (Conflict, 409), (UserError, 400)):
        if isinstance(exc, kind):
            return status, str(exc)
    return 500, "an unexpected error; it has been logged"


def html_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired) and is_page_path(request.url.path):
        if is_htmx(request):  # a partial cannot be redirected: reload the whole page
            return Response("", status_code=401, headers={"HX-Redirect": PREFIX + "/login"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"{PREFIX}/login?next={quote(target)}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and is_page_path(request.url.path):
        return Redirect(f"{PREFIX}/password", status_code=303)
    status, detail = status_of(exc)
    rid = request.scope.get("state", {}).get("request_id")
    if status >= 500:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        detail = "an unexpected error; it has been logged"
    if not is_page_path(request.url.path):
        code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}
        body = {"type": "about:blank", "status": status, "code": code.get(status, "ERROR")}
        body.update(title=body["code"], detail=detail, request_id=rid)
        return Response(body, status_code=status, media_type="application/problem+json")
    return page(
        request,
        "error.html",
        partial="_error.html",
        status=status,
        title=TITLES.get(status, "Error"),
        code=status,
        detail=detail,
        request_id=rid,
        not_found=isinstance(exc, NotFoundException | NotFound),
    )
