"""The workspace JSON API under ``/app/api/review``: the review service for scripts and other
front ends, with the person's session (not an agent key).

Authentication is the workspace session cookie; every POST carries the CSRF token in the
``x-csrftoken`` header (the value of the ``plata_csrf`` cookie), like the pages' htmx calls.
Amounts are strings with two decimals ("1234.50"), as in the bank API. An action answers
``ActionResult``; a stale ``expected_version`` or someone else's claim is a 409 problem with
the item's fresh state in ``item``; the same ``form_token`` (or ``Idempotency-Key`` header)
twice acts once and answers the first result with ``replayed: true``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.errors import NotFound
from gateway.services import review
from gateway.services.people import Role
from gateway.services.review import bulk, learn, reads
from gateway.services.review.structs import ItemConflict
from gateway.web.auth import requires, who
from gateway.web.pages.item import config_of
from gateway.web.review_bodies import (
    AssignIn,
    BulkIn,
    ClaimIn,
    CommentIn,
    DuplicateIn,
    NoteIn,
    ReasonIn,
    ReturnIn,
    SplitIn,
    Versioned,
    bulk_filter,
    bulk_rule,
)
from reconciliation.money import format_amount, parse_amount

PROBLEM = "application/problem+json"
_MONEY_KEYS = frozenset({"amount", "total"})


def _edge(value: Any) -> Any:
    """Builtins with every ``amount``/``total`` in bani written as "1234.50"."""
    if isinstance(value, dict):
        return {
            k: format_amount(v) if k in _MONEY_KEYS and isinstance(v, int) else _edge(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_edge(v) for v in value]
    return value


def _out(obj: object, status: int = 200) -> Response:
    return Response(_edge(msgspec.to_builtins(obj)), status_code=status)


def _conflict(request: Request, exc: ItemConflict) -> Response:
    body = {
        "type": "about:blank",
        "status": 409,
        "code": "CONFLICT",
        "title": "CONFLICT",
        "detail": str(exc),
        "item": _edge(msgspec.to_builtins(exc.item)) if exc.item else None,
    }
    return Response(body, status_code=409, media_type=PROBLEM)


def _token(request: Request, body: Any) -> str | None:
    return getattr(body, "form_token", None) or request.headers.get("idempotency-key")


def _act(
    request: Request, data: Any, action: Callable[..., object], *args: Any, **kwargs: Any
) -> Response:
    """``action(engine, actor, *args, form_token=..., **kwargs)`` as the session's person, its
    result as JSON; the form token is the body's, else the ``Idempotency-Key`` header."""
    engine, actor = request.app.state.engine, who(request).actor
    return _out(action(engine, actor, *args, form_token=_token(request, data), **kwargs))


def _resolve(
    request: Request, data: Versioned, action: Callable[..., object], *args: Any, **kwargs: Any
) -> Response:
    """A resolution of an item: refused if it changed since ``expected_version``, four-eyes and
    allocation policy by the app's review settings."""
    config = config_of(request)
    version = data.expected_version
    return _act(request, data, action, *args, expected_version=version, config=config, **kwargs)


def _fields(data: Versioned) -> dict[str, Any]:
    """A body's own fields, for a service whose keyword arguments have the same names."""
    common = Versioned.__struct_fields__
    return {f: getattr(data, f) for f in data.__struct_fields__ if f not in common}


_ACT: dict[str, Any] = {
    "sync_to_thread": True,
    "guards": [requires(Role.ACCOUNTANT)],
    "status_code": 200,
}


class ReviewApi(Controller):
    path = "/api/review"
    tags = ("Review workspace",)
    include_in_schema = True
    exception_handlers = {ItemConflict: _conflict}  # noqa: RUF012  (Litestar's layer API)
    security = ({"session": []},)

    @get("/items", sync_to_thread=True)
    def list_items(
        self,
        request: Request,
        item_state: Annotated[str, QueryParameter(name="state")] = "open",
        reason: FromQuery[str | None] = None,
        after: FromQuery[int] = 0,
        limit: Annotated[int, QueryParameter(le=1000)] = 50,
    ) -> Response:
        """Items in a state (``any`` for all), oldest first, keyset-paged by id (``after``)."""
        items = reads.list_items(
            request.app.state.engine, state=item_state, reason=reason, after_id=after, limit=limit
        )
        return _out(items)

    @get("/items/{item_id:int}", sync_to_thread=True)
    def show(self, request: Request, item_id: FromPath[int]) -> Response:
        """One item with its payment, candidates and history."""
        return _out(reads.show(request.app.state.engine, item_id))

    @post("/items/{item_id:int}/assign", **_ACT)
    def assign(
        self, request: Request, item_id: FromPath[int], data: JSONBody[AssignIn]
    ) -> Response:
        """The whole payment on one account (by the policy, chosen invoices or services)."""
        services = [
            review.ServicePart(s.service_code, parse_amount(s.amount)) for s in data.services
        ]
        return _resolve(
            request,
            data,
            review.assign,
            item_id,
            data.account_no,
            invoices=data.invoices,
            services=services,
            note=data.note,
        )

    @post("/items/{item_id:int}/split", **_ACT)
    def split(self, request: Request, item_id: FromPath[int], data: JSONBody[SplitIn]) -> Response:
        """Across accounts and services; the shares add up to the payment exactly."""
        shares = [
            review.SharePart(s.account_no, parse_amount(s.amount), s.service_code)
            for s in data.shares
        ]
        return _resolve(request, data, review.split, item_id, shares, note=data.note)

    @post("/items/{item_id:int}/return", **_ACT)
    def return_to_payer(
        self, request: Request, item_id: FromPath[int], data: JSONBody[ReturnIn]
    ) -> Response:
        """Back to the payer's IBAN: a refund line for finance's payment orders."""
        return _resolve(request, data, review.return_to_payer, item_id, **_fields(data))

    @post("/items/{item_id:int}/not-utility", **_ACT)
    def not_utility(
        self, request: Request, item_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> Response:
        """Not a utility payment: rejected, nothing allocated."""
        return _resolve(request, data, review.not_utility, item_id, reason=data.reason)

    @post("/items/{item_id:int}/duplicate", **_ACT)
    def duplicate(
        self, request: Request, item_id: FromPath[int], data: JSONBody[DuplicateIn]
    ) -> Response:
        """A repeat of another payment: returned, or credit on the original's account."""
        return _resolve(request, data, review.mark_duplicate, item_id, **_fields(data))

    @post("/items/{item_id:int}/undo", **_ACT)
    def undo(self, request: Request, item_id: FromPath[int], data: JSONBody[ReasonIn]) -> Response:
        """Ask to take a resolution back; a supervisor approves it."""
        return _resolve(request, data, review.undo, item_id, reason=data.reason)

    @post("/items/{item_id:int}/claim", **_ACT)
    def claim(self, request: Request, item_id: FromPath[int], data: JSONBody[ClaimIn]) -> Response:
        """Work on the item; someone else's claim only with ``take_over``."""
        version, take_over = data.expected_version, data.take_over
        return _act(
            request, data, review.claim, item_id, take_over=take_over, expected_version=version
        )

    @post("/items/{item_id:int}/release", **_ACT)
    def release(
        self, request: Request, item_id: FromPath[int], data: JSONBody[Versioned]
    ) -> Response:
        version = data.expected_version
        return _act(request, data, review.release, item_id, expected_version=version)

    @post("/items/{item_id:int}/comments", **_ACT)
    def comment(
        self, request: Request, item_id: FromPath[int], data: JSONBody[CommentIn]
    ) -> Response:
        return _act(request, data, review.comment, item_id, data.text)

    @post("/payments/{payment_id:int}/unmatch", **_ACT)
    def unmatch(
        self, request: Request, payment_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> Response:
        """Ask to take an automatic allocation back into the queue (four-eyes)."""
        return _act(request, data, review.unmatch, payment_id, reason=data.reason)

    @get("/approvals", sync_to_thread=True)
    def approvals(self, request: Request, status: FromQuery[str] = "pending") -> Response:
        """Requests by status (pending by default), oldest first."""
        return _out(review.list_approvals(request.app.state.engine, status=status))

    @post(
        "/approvals/{approval_id:int}/approve",
        sync_to_thread=True,
        status_code=200,
        guards=[requires(Role.SUPERVISOR)],
    )
    def approve(
        self, request: Request, approval_id: FromPath[int], data: JSONBody[NoteIn]
    ) -> Response:
        """A supervisor other than the requester lets the waiting action run."""
        return _act(
            request, data, review.approve, approval_id, note=data.note, config=config_of(request)
        )

    @post("/approvals/{approval_id:int}/reject", **_ACT)
    def reject(
        self, request: Request, approval_id: FromPath[int], data: JSONBody[NoteIn]
    ) -> Response:
        """A supervisor refuses, or the requester withdraws."""
        return _act(request, data, review.reject, approval_id, note=data.note)

    @post("/bulk/preview", sync_to_thread=True, status_code=200)
    def bulk_preview(self, request: Request, data: JSONBody[BulkIn]) -> Response:
        """Counts, sums and what each selected item would get; changes nothing."""
        return _out(
            bulk.preview(
                request.app.state.engine,
                who(request).actor,
                bulk_filter(data.filter),
                bulk_rule(data.rule),
            )
        )

    @post("/bulk", **_ACT)
    def bulk_request(self, request: Request, data: JSONBody[BulkIn]) -> Response:
        """Ask a supervisor to apply the previewed bulk action."""
        flt, rule = bulk_filter(data.filter), bulk_rule(data.rule)
        return _act(request, data, bulk.request, flt, rule, note=data.note)

    @get("/rules", sync_to_thread=True)
    def rules(
        self, request: Request, status: FromQuery[str | None] = None, kind: FromQuery[str] = "place"
    ) -> Response:
        """Learned rules with the payments each placed."""
        return _out(learn.list_rules(request.app.state.engine, status=status, kind=kind))

    @post(
        "/rules/{rule_id:int}/{switch:str}",
        sync_to_thread=True,
        status_code=200,
        guards=[requires(Role.SUPERVISOR)],
    )
    def switch_rule(
        self,
        request: Request,
        rule_id: FromPath[int],
        switch: FromPath[str],
        data: JSONBody[NoteIn],
    ) -> Response:
        """``enable`` or ``disable`` a learned rule."""
        if switch not in ("enable", "disable"):
            raise NotFound(f"no such switch {switch!r}")
        return _out(
            learn.set_rule_enabled(
                request.app.state.engine,
                who(request).actor,
                rule_id,
                enabled=switch == "enable",
                reason=data.note,
            )
        )


handlers = [ReviewApi]
