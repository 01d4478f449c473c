"""Payments: post (201, or 200 with the same body on a retry), status, reversal (storno).

The agent comes from the guard (``gateway.api.auth``); every service call is scoped to it, so
an agent can only see and reverse its own payments (another agent's txn id is simply not
found). Retries are answered with 200 and ``Idempotent-Replay: true``, the body byte for byte
the original 201 body.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from litestar import Request, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from gateway.api.common import Json, agent_of, audit_of, log, problems, read, refuse, write_call
from gateway.api.structs import PaymentIn, PaymentOut, ReversalOut
from gateway.errors import Refused
from gateway.services.payments import (
    Outcome,
    PaymentInput,
    get_payment,
    post_payment,
    reverse_payment,
)


def _input(data: JSONBody[PaymentIn]) -> PaymentInput:
    return PaymentInput(
        agent_txn_id=data.agent_txn_id,
        account_no=data.account_no,
        amount=data.amount,
        currency=data.currency,
        paid_at=data.paid_at,
        invoice_no=data.invoice_no,
        services=tuple((s.service_code, s.amount) for s in data.services or ()),
    )


def _respond(out: Outcome) -> Json:
    headers = {"Idempotent-Replay": "true"} if out.replay else None
    return Json(out.body, out.status, headers)


def _body(struct: type, description: str) -> ResponseSpec:
    return ResponseSpec(struct, description=description, generate_examples=False)


@post(
    "/payments",
    status_code=201,
    summary="Post a payment; allocated at once",
    description="Idempotent on (agent, agent_txn_id): a retry with the same content gets the "
    "original body with status 200; different content gets 409 TXN_CONFLICT.",
    responses={
        201: _body(PaymentOut, "the payment, allocated"),
        200: _body(PaymentOut, "retry: the original answer"),
        **problems(400, 401, 403, 404, 409, 422, 429),
    },
)
async def create_payment(request: Request, data: JSONBody[PaymentIn]) -> Json:
    agent = agent_of(request)
    audit = await audit_of(request)
    settings = request.app.state.settings
    try:
        out = await write_call(
            request.app.state.engine,
            post_payment,
            agent,
            _input(data),
            tz=ZoneInfo(settings.timezone),
            audit=audit,
            policy=request.app.state.allocation_policy,
        )
    except Refused as exc:
        raise await refuse(request, exc, audit) from None
    log.info("payment", agent=agent.name, payment_id=out.payment_id, replay=out.replay)
    return _respond(out)


@get(
    "/payments/{agent_txn_id:str}",
    summary="Status of one of this agent's payments",
    responses={200: _body(PaymentOut, "the payment now"), **problems(401, 403, 404, 429)},
)
async def payment_status(request: Request, agent_txn_id: FromPath[str]) -> Json:
    try:
        out = await read(request.app.state.engine, get_payment, agent_of(request), agent_txn_id)
    except Refused as exc:
        raise await refuse(request, exc) from None
    return _respond(out)


@post(
    "/payments/{agent_txn_id:str}/reversal",
    status_code=200,
    summary="Reverse (storno) one of this agent's payments while its business day is open",
    description="Posts compensating allocations; never deletes. Repeating it returns the same "
    "body and changes nothing.",
    responses={200: _body(ReversalOut, "the reversal rows"), **problems(401, 403, 404, 422, 429)},
)
async def reverse(request: Request, agent_txn_id: FromPath[str]) -> Json:
    agent = agent_of(request)
    audit = await audit_of(request)
    try:
        out = await write_call(
            request.app.state.engine, reverse_payment, agent, agent_txn_id, audit=audit
        )
    except Refused as exc:
        raise await refuse(request, exc, audit) from None
    log.info("reversal", agent=agent.name, payment_id=out.payment_id)
    return _respond(out)
