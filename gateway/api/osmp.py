"""OSMP/QIWI provider-protocol facade for terminal networks: ``GET /osmp/v1?command=check|pay``.

Parameters: ``command``, ``txn_id`` (the network's transaction id), ``account``, ``sum``
("125.50") and, for ``pay``, ``txn_date`` (YYYYMMDDHHMMSS, Europe/Chisinau local time, as the
protocol sends it). The answer is always XML::

    <response><osmp_txn_id/><prv_txn/><sum/><result/><comment/></response>

Decisions:

- Every business outcome is HTTP 200 with its ``result`` (0 ok, 4 bad account format,
  5 account not found, 7 refused, 79 account closed, 241/242 sum too small/large, 300 other),
  because terminal software reads the result, not the status. Authentication failures keep
  their HTTP status (401/403) and rate limiting its 429 (result 1, "retry later"), still in XML.
- ``pay`` goes through the same service as the JSON API with channel ``terminal``, so the same
  idempotency holds: a repeated ``pay`` with the same content returns result 0 and the same
  ``prv_txn``; the same ``txn_id`` with a different account or sum is refused (result 300).
- ``check`` stores nothing; a ``pay`` (refused or not) is kept in ``api_requests`` with its
  query string as the request body.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, QueryParameter

from gateway.api.common import agent_of, log, read, write_call
from gateway.api.problems import CODES, ApiError
from gateway.errors import Refused
from gateway.services.accounts import lookup
from gateway.services.payment_input import wire_amount
from gateway.services.payments import Audit, PaymentInput, post_payment, record_request

XML = "application/xml"
_TXN_DATE = re.compile(r"[0-9]{14}")


def reply(
    result: int,
    comment: str,
    txn_id: str | None = None,
    prv_txn: int | None = None,
    sum_: str | None = None,
    status: int = 200,
) -> Response:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<response>']
    parts.append(f"<osmp_txn_id>{escape((txn_id or '')[:35])}</osmp_txn_id>")
    if prv_txn is not None:
        parts.append(f"<prv_txn>{prv_txn}</prv_txn>")
    if sum_ is not None:
        parts.append(f"<sum>{escape(sum_)}</sum>")
    parts.append(f"<result>{result}</result><comment>{escape(comment)}</comment></response>")
    return Response("".join(parts), media_type=XML, status_code=status)


def _result(exc: Refused) -> int:
    return exc.result if exc.result is not None else CODES.get(exc.code, (400, 300))[1]


def _paid_at(txn_date: str | None, tz: ZoneInfo) -> str:
    """YYYYMMDDHHMMSS local time -> ISO 8601 with the offset of that moment.

    Fourteen ASCII digits first: ``strptime`` alone takes any Unicode digit. Whether the
    moment is plausible is the payment service's question, as for the JSON API.
    """
    text = txn_date or ""
    try:
        if not _TXN_DATE.fullmatch(text):
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=tz).isoformat()
    except (ValueError, OverflowError):
        raise Refused("INVALID_PAID_AT", "txn_date must be YYYYMMDDHHMMSS") from None


async def _check(request: Request, txn_id: str, account: str, sum_: str | None) -> Response:
    if sum_ is not None:
        wire_amount(sum_, "sum")
    await read(request.app.state.engine, lookup, account)
    return reply(0, "OK", txn_id, sum_=sum_)


async def _pay(
    request: Request, txn_id: str, account: str, sum_: str, txn_date: str | None
) -> Response:
    tz = ZoneInfo(request.app.state.settings.timezone)
    paid_at = _paid_at(txn_date, tz)
    inp = PaymentInput(txn_id, account, sum_, "MDL", paid_at)
    audit = Audit("GET", request.scope["path"], request.scope.get("query_string") or b"")
    try:
        out = await write_call(
            request.app.state.engine,
            post_payment,
            agent_of(request),
            inp,
            channel="terminal",
            tz=tz,
            audit=audit,
            policy=request.app.state.allocation_policy,
        )
    except Refused as exc:
        await write_call(request.app.state.engine, record_request, agent_of(request).id, audit, 200)
        raise exc
    return reply(0, "OK", txn_id, out.payment_id, out.body["amount"])


@get(
    "/v1",
    summary="OSMP/QIWI provider protocol (check, pay)",
    description="XML answer with result codes 0, 1, 4, 5, 7, 79, 241, 242, 300.",
    media_type=XML,
)
async def osmp(
    request: Request,
    command: FromQuery[str | None] = None,
    txn_id: FromQuery[str | None] = None,
    account: FromQuery[str | None] = None,
    sum_: Annotated[str | None, QueryParameter(name="sum")] = None,
    txn_date: FromQuery[str | None] = None,
) -> Response[str]:
    agent = agent_of(request)
    try:
        if command not in ("check", "pay"):
            raise Refused("VALIDATION_ERROR", "command must be check or pay")
        if not txn_id or not account:
            raise Refused("VALIDATION_ERROR", "txn_id and account are required")
        if command == "check":
            return await _check(request, txn_id, account, sum_)
        if sum_ is None:
            raise Refused("INVALID_AMOUNT", "sum is required", 241)
        out = await _pay(request, txn_id, account, sum_, txn_date)
        log.info("osmp pay", agent=agent.name, result=0)
        return out
    except Refused as exc:
        log.info("osmp refused", agent=agent.name, command=command, code=exc.code)
        return reply(_result(exc), exc.code, txn_id)


def unexpected_handler(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback, answered in XML with result 1 ("temporary
    error, retry"), never a JSON body a terminal cannot read."""
    log.error("osmp unhandled error", path=request.url.path, exc_info=exc)
    return reply(1, "INTERNAL_ERROR", status=500)


def error_handler(_: Request, exc: HTTPException) -> Response:
    """Authentication, rate limiting and decoding errors, still as OSMP XML."""
    if isinstance(exc, ApiError):
        resp = reply(exc.result, exc.code, status=exc.status_code)
    else:
        resp = reply(300, "VALIDATION_ERROR", status=exc.status_code)
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp
