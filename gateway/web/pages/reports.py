"""Account search, the ageing report, learned rules and the approvals waiting for a
supervisor: the workspace's pages beside the queue and the item."""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.db import reading
from gateway.errors import NotFound, UserError
from gateway.services import review
from gateway.services.account_search import SearchKind, search_accounts
from gateway.services.ageing import ageing
from gateway.services.payment_view import account_payments
from gateway.services.people import Role
from gateway.services.review.learn import list_rules, set_rule_enabled
from gateway.services.review.structs import Approval
from gateway.services.review_item import account_book
from gateway.services.review_queue import AgeBucket
from gateway.web.auth import requires, who
from gateway.web.pages.approvals_words import describe
from gateway.web.pages.item import config_of
from gateway.web.render import flash, is_htmx, page, see_other
from reconciliation.references import normalize_account_no

SUPERVISOR = [requires(Role.SUPERVISOR)]


@get("/accounts", include_in_schema=False)
async def accounts(request: Request) -> Template:
    q = request.query_params.get("q", "")
    kind_text = request.query_params.get("kind", "auto")
    try:
        kind = SearchKind(kind_text)
    except ValueError:
        raise UserError(f"unknown search kind {kind_text!r}") from None
    item = request.query_params.get("item", "")
    engine = request.app.state.engine
    hits = await anyio.to_thread.run_sync(lambda: search_accounts(engine, q, kind)) if q else []
    return page(
        request, "accounts.html", partial="_accounts_table.html", title="Accounts", q=q,
        kind=kind.value, kinds=list(SearchKind), hits=hits,
        item=int(item) if item.isdigit() else None,
    )  # fmt: skip


@get("/accounts/{account_no:str}", include_in_schema=False)
async def account(request: Request, account_no: FromPath[str]) -> Template:
    canonical = normalize_account_no(account_no)
    engine = request.app.state.engine

    def load() -> Any:
        with reading(engine) as conn:
            book = account_book(conn, canonical) if canonical else None
            if book is None:
                raise NotFound(f"no account {account_no}")
            return book, account_payments(conn, book.account_no)

    book, paid = await anyio.to_thread.run_sync(load)
    return page(request, "account.html", title=f"Account {account_no}", book=book,
                payments=paid)  # fmt: skip


@get("/ageing", include_in_schema=False)
async def ageing_page(request: Request) -> Template:
    engine, zone = request.app.state.engine, request.app.state.settings.timezone
    report = await anyio.to_thread.run_sync(lambda: ageing(engine, timezone=zone))
    return page(request, "ageing.html", title="Ageing", r=report, buckets=list(AgeBucket))


@get("/rules", include_in_schema=False)
async def rules(request: Request) -> Template:
    status = request.query_params.get("status") or None
    engine = request.app.state.engine
    found = await anyio.to_thread.run_sync(lambda: list_rules(engine, status=status, limit=500))
    return page(
        request, "rules.html", title="Learned rules", rules=found, shown=status or "",
        can_change=who(request).actor.allows(Role.SUPERVISOR),
    )  # fmt: skip


@post("/rules/{rule_id:int}", guards=SUPERVISOR, include_in_schema=False)
async def rule_toggle(request: Request, rule_id: FromPath[int]) -> Redirect:
    form = await request.form()
    enabled = form.get("enable") == "1"
    actor, engine = who(request).actor, request.app.state.engine
    view = await anyio.to_thread.run_sync(
        lambda: set_rule_enabled(engine, actor, rule_id, enabled=enabled,
                                 reason=str(form.get("reason", "")))
    )  # fmt: skip
    await flash(request, "success", f"rule {view.id} {view.status}")
    return see_other("/app/rules")


@get("/approvals", include_in_schema=False)
async def approvals(request: Request) -> Template:
    status = request.query_params.get("status") or "pending"
    engine = request.app.state.engine

    def load() -> tuple[list[Approval], dict[int, str]]:
        found = review.list_approvals(engine, status=status)
        return found, describe(engine, found)

    found, words = await anyio.to_thread.run_sync(load)
    person = who(request)
    return page(
        request, "approvals.html", title="Approvals", approvals=found, words=words,
        shown=status, can_approve=person.actor.allows(Role.SUPERVISOR),
        new_token=lambda: uuid.uuid4().hex,
    )  # fmt: skip


@post("/approvals/{approval_id:int}", guards=[requires(Role.ACCOUNTANT)], include_in_schema=False)
async def decide(request: Request, approval_id: FromPath[int]) -> Redirect | Response:
    """Approve (a supervisor, never the requester) or reject / withdraw."""
    form = await request.form()
    actor, engine, config = who(request).actor, request.app.state.engine, config_of(request)
    note, token = str(form.get("note", "")), str(form.get("form_token") or "") or None
    if form.get("decision") == "approve":
        result = await anyio.to_thread.run_sync(
            lambda: review.approve(engine, actor, approval_id, note=note, form_token=token,
                                   config=config)
        )  # fmt: skip
    else:
        result = await anyio.to_thread.run_sync(
            lambda: review.reject(engine, actor, approval_id, note=note, form_token=token)
        )
    await flash(request, "success", result.message)
    if is_htmx(request):  # a bulk approval (its progress was polled): the result is listed
        where = f"/app/approvals?status=approved#a{approval_id}"
        return Response(b"", status_code=200, headers={"HX-Redirect": where})
    return see_other("/app/approvals")


handlers = [accounts, account, ageing_page, rules, rule_toggle, approvals, decide]
