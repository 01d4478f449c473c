"""RFC 9457 problem documents: the one shape of every HTTP error answer (API and pages)."""

from __future__ import annotations

from litestar import Response

PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra: object) -> Response:
    """An RFC 9457 problem document with our stable machine-readable ``code``."""
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "detail": detail}
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM)
