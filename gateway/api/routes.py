"""The bank API's route handlers, collected for ``create_app``.

Two routers, both behind the ``authenticate`` hook: ``/pf/v1`` (JSON, problem+json errors)
and ``/osmp`` (the OSMP/QIWI-style facade for terminal networks, XML answers).
"""

from __future__ import annotations

from litestar import Router
from litestar.exceptions import HTTPException

from gateway.api import accounts, osmp, payments
from gateway.api.auth import authenticate
from gateway.api.problems import http_handler


def handlers() -> list:
    pf = Router(
        "/pf/v1",
        route_handlers=[
            accounts.get_account,
            payments.create_payment,
            payments.payment_status,
            payments.reverse,
        ],
        before_request=authenticate,
        exception_handlers={HTTPException: http_handler},
        tags=["Plata Facturilor"],
    )
    terminals = Router(
        "/osmp",
        route_handlers=[osmp.osmp],
        before_request=authenticate,
        exception_handlers={
            HTTPException: osmp.error_handler,
            Exception: osmp.unexpected_handler,
        },
        tags=["OSMP facade"],
    )
    return [pf, terminals]
