"""Error codes of the bank API: one table, RFC 9457 problem+json, OSMP result beside the code.

Every refusal carries a stable machine-readable ``code`` (what a bank's software branches on),
the HTTP status, and ``result``: the numeric result code of the OSMP/QIWI provider protocol
(0 ok, 1 temporary error, 4 bad account format, 5 account not found, 7 refused by provider,
79 account not active, 241 sum too small, 242 sum too large, 300 other error), so terminal
networks and banks used to that protocol read the same outcome. ``ApiError`` is an
``HTTPException`` so that ``gateway.app``'s handler renders it with ``gateway.problem``; the routers
here also register ``validation_handler`` so that a body Litestar cannot decode becomes the
matching code (INVALID_AMOUNT for a bad amount, ...) instead of a generic 400.
"""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from gateway.problem import problem

#: code -> (HTTP status, OSMP result)
CODES: dict[str, tuple[int, int]] = {
    "VALIDATION_ERROR": (400, 300),
    "INVALID_AMOUNT": (400, 300),
    "INVALID_CURRENCY": (400, 300),
    "INVALID_PAID_AT": (400, 300),
    "INVALID_TXN_ID": (400, 300),
    "INVALID_ACCOUNT": (400, 4),
    "ACCOUNT_NOT_FOUND": (404, 5),
    "PAYMENT_NOT_FOUND": (404, 300),
    "ACCOUNT_CLOSED": (422, 79),
    "UNKNOWN_SERVICE": (422, 7),
    "UNKNOWN_INVOICE": (422, 7),
    "SERVICE_SUM_MISMATCH": (422, 300),
    "DAY_CLOSED": (422, 7),
    "NOT_REVERSIBLE": (422, 7),
    "TXN_CONFLICT": (409, 300),
    "UNAUTHORIZED": (401, 300),
    "BAD_SIGNATURE": (401, 300),
    "SIGNATURE_EXPIRED": (401, 300),
    "IP_NOT_ALLOWED": (403, 300),
    "RATE_LIMITED": (429, 1),
    "UNAVAILABLE": (503, 1),
    "INTERNAL_ERROR": (500, 1),
}

#: Which request field a decoding error names -> the code a bank expects for it.
FIELD_CODES = {
    "amount": "INVALID_AMOUNT",
    "currency": "INVALID_CURRENCY",
    "paid_at": "INVALID_PAID_AT",
    "agent_txn_id": "INVALID_TXN_ID",
    "account_no": "INVALID_ACCOUNT",
    "service_code": "UNKNOWN_SERVICE",
    "invoice_no": "UNKNOWN_INVOICE",
}


class ApiError(HTTPException):
    """A refusal rendered as problem+json with ``code`` and ``result``."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        result: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        status, default_result = CODES.get(code, (400, 300))
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.code = code
        self.result = default_result if result is None else result
        self.extra = {"result": self.result}


def status_of(code: str) -> int:
    return CODES.get(code, (400, 300))[0]


def api_error(exc: HTTPException) -> Response:
    """Render any HTTPException under /pf/v1 as a problem that carries an OSMP result."""
    if isinstance(exc, ApiError):
        resp = problem(exc.status_code, exc.code, str(exc.detail), result=exc.result)
    else:
        code = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 429: "RATE_LIMITED"}.get(
            exc.status_code, "VALIDATION_ERROR" if exc.status_code < 500 else "INTERNAL_ERROR"
        )
        result = 1 if exc.status_code >= 500 or exc.status_code == 429 else 300
        resp = problem(exc.status_code, code, str(exc.detail), result=result)
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp


def code_for_validation(exc: ValidationException) -> str:
    """The most specific code for a body that failed to decode (first named field wins)."""
    for item in exc.extra or []:
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        for field, code in FIELD_CODES.items():
            if key == field or key.endswith(f".{field}") or key.endswith(f"{field}]"):
                return code
    return "VALIDATION_ERROR"


def validation_handler(_: Request, exc: ValidationException) -> Response:
    code = code_for_validation(exc)
    status, result = CODES[code]
    return problem(status, code, _validation_detail(exc), result=result)


def _validation_detail(exc: ValidationException) -> str:
    """Litestar's message plus the field, without echoing the payload back."""
    for item in exc.extra or []:
        if isinstance(item, dict) and item.get("key"):
            return f"{item.get('message', 'invalid value')} (field {item['key']})"
    return str(exc.detail) or "request body is not valid JSON of the documented shape"


def http_handler(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException) and not isinstance(exc, ApiError):
        return validation_handler(request, exc)
    return api_error(exc)
