"""Bulk actions: select items by a filter, preview what each would get, then (after a
supervisor's approval) apply in batches with progress.

Set-based throughout: the selection is one query, the open totals of every candidate account
one query, and each batch of ``BATCH`` items is one lock query, one lines query, one insert
per table and one executemany per update, never a query per item. An item that changed
between the preview and the approval (someone resolved it, its version moved) is skipped and
counted, never acted on twice. Each batch is its own transaction and records its progress on
the approval row (``bulk_progress`` reads it: the approvals page polls it while the run goes).

Rules (``BulkRule``), all of them "accept a candidate" placements by the allocation policy:

- ``unique_correction_exact``: a check-digit item whose only candidate is a typo correction
  and whose amount equals that account's open total now;
- ``best_exact``: any item whose best candidate's open total equals the amount;
- ``best``: the best candidate, whatever the amount (for a supervisor who has looked).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from enum import StrEnum

import msgspec
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from gateway.db import reading
from gateway.errors import UserError
from gateway.services.people import Actor, Role
from gateway.services.review import learn, store, tokens
from gateway.services.review.requests import insert_request
from gateway.services.review.structs import (
    DEFAULT_CONFIG,
    ActionResult,
    Approval,
    ItemState,
    ReviewConfig,
)
from reconciliation import resolve
from reconciliation.allocate import open_after
from reconciliation.model import OpenLine
from reconciliation.money import format_amount
from reconciliation.review import ActionKind, ReasonCode, ReviewError, ReviewState
from schemas.tables import (
    accounts,
    allocations,
    approvals,
    invoice_lines,
    invoices,
    payments,
    review_actions,
    review_items,
)

ri, p = review_items, payments
BATCH = 500
MAX_ITEMS = 5000
_CORRECTION_REASONS = (ReasonCode.CHECK_DIGIT_FAILED.value, ReasonCode.CHECK_DIGIT_MISSING.value)
_CORRECTION_WORDS = ("check digit added", "swapped", "read as", "dropped")


class BulkRule(StrEnum):
    UNIQUE_CORRECTION_EXACT = "unique_correction_exact"
    BEST_EXACT = "best_exact"
    BEST = "best"


class BulkFilter(msgspec.Struct, frozen=True):
    """Which open items: every field narrows the selection (all optional)."""

    reason: str | None = None
    channel: str | None = None
    source: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    amount_min: int | None = None  # bani
    amount_max: int | None = None
    item_ids: list[int] | None = None


class Proposal(msgspec.Struct, frozen=True):
    item_id: int
    version: int
    payment_id: int
    amount: int
    account_no: str
    why: str


class BulkPreview(msgspec.Struct, frozen=True):
    rule: str
    selected: int  # open items the filter matched
    eligible: int  # those the rule would act on
    total: int  # bani of the eligible items
    skipped: dict[str, int]  # why the others are left alone
    proposals: list[Proposal]


def _select(conn: Connection, flt: BulkFilter) -> list[ItemState]:
    q = (
        select(ri.c.id)
        .join(p, p.c.id == ri.c.payment_id)
        .where(ri.c.state == ReviewState.OPEN.value)
    )
    for column, value in (
        (ri.c.reason, flt.reason),
        (p.c.channel, flt.channel),
        (p.c.source, flt.source),
    ):
        if value:
            q = q.where(column == value)
    if flt.day_from:
        q = q.where(p.c.business_day >= flt.day_from)
    if flt.day_to:
        q = q.where(p.c.business_day <= flt.day_to)
    if flt.amount_min is not None:
        q = q.where(p.c.amount >= flt.amount_min)
    if flt.amount_max is not None:
        q = q.where(p.c.amount <= flt.amount_max)
    if flt.item_ids:
        q = q.where(ri.c.id.in_(flt.item_ids))
    ids = list(conn.execute(q.order_by(ri.c.id).limit(MAX_ITEMS + 1)).scalars())
    if len(ids) > MAX_ITEMS:
        raise UserError(f"the filter selects more than {MAX_ITEMS} items; narrow it")
    return store.load_items(conn, ids)


def _open_totals(conn: Connection, account_nos: set[str]) -> dict[str, int]:
    """What is open (positive lines) per account, in one query."""
    if not account_nos:
        return {}
    paid = (
        select(func.coalesce(func.sum(allocations.c.amount), 0))
        .where(allocations.c.invoice_line_id == invoice_lines.c.id)
        .scalar_subquery()
    )
    open_ = invoice_lines.c.amount_due - paid
    per_line = (
        select(accounts.c.account_no.label("acc"), open_.label("left"))
        .select_from(invoice_lines)
        .join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .where(invoices.c.status == "open", accounts.c.account_no.in_(sorted(account_nos)))
        .where(accounts.c.status == "open")
        .subquery()
    )
    q = select(per_line.c.acc, func.sum(per_line.c.left)).where(per_line.c.left > 0)
    return {a: int(s) for a, s in conn.execute(q.group_by(per_line.c.acc))}


def _propose(item: ItemState, rule: BulkRule, totals: dict[str, int]) -> Proposal | str:
    """What the rule gives the item, or why it leaves it alone."""
    if item.claimed_by:
        return "claimed by someone"
    if not item.candidates:
        return "no candidate"
    best = item.candidates[0]
    if rule is BulkRule.UNIQUE_CORRECTION_EXACT:
        if item.reason not in _CORRECTION_REASONS:
            return "not a check-digit item"
        fixes = [c for c in item.candidates if any(w in c.reason for w in _CORRECTION_WORDS)]
        if len(fixes) != 1 or len(item.candidates) != 1:
            return "not a unique correction"
        best = fixes[0]
    if best.account_no not in totals and rule is not BulkRule.BEST:
        return "candidate has nothing open"
    if rule is not BulkRule.BEST and totals.get(best.account_no) != item.amount:
        return "amount differs from the open total"
    why = f"{best.reason} (score {best.score:.2f})"
    return Proposal(item.id, item.version, item.payment_id, item.amount, best.account_no, why)


def preview(
    engine: Engine, actor: Actor, flt: BulkFilter, rule: BulkRule, *, show: int = 200
) -> BulkPreview:
    """Counts, sums and what each selected item would get; changes nothing."""
    actor.require(Role.VIEWER)
    with reading(engine) as conn:
        items = _select(conn, flt)
        totals = _open_totals(conn, {c.account_no for i in items for c in i.candidates})
    proposals, skipped = _plan(items, rule, totals)
    return BulkPreview(
        rule=rule.value,
        selected=len(items),
        eligible=len(proposals),
        total=sum(pr.amount for pr in proposals),
        skipped=dict(skipped),
        proposals=proposals[:show] if show else proposals,
    )


def _plan(
    items: Iterable[ItemState], rule: BulkRule, totals: dict[str, int]
) -> tuple[list[Proposal], dict[str, int]]:
    proposals: list[Proposal] = []
    skipped: dict[str, int] = defaultdict(int)
    for item in items:
        out = _propose(item, rule, totals)
        if isinstance(out, Proposal):
            proposals.append(out)
        else:
            skipped[out] += 1
    return proposals, skipped


def request(
    engine: Engine,
    actor: Actor,
    flt: BulkFilter,
    rule: BulkRule,
    *,
    note: str = "",
    form_token: str | None = None,
) -> ActionResult:
    """Ask for the previewed bulk action; a supervisor other than ``actor`` approves it.

    The request freezes the proposals (item, version, account): the approval applies exactly
    what was previewed, skipping what changed since."""
    actor.require(Role.ACCOUNTANT)
    full = preview(engine, actor, flt, rule, show=0)
    if not full.proposals:
        raise UserError("the rule acts on none of the selected items")
    params = {
        "type": ActionKind.BULK.value,
        "rule": rule.value,
        "note": note,
        "items": [[pr.item_id, pr.version, pr.account_no] for pr in full.proposals],
    }
    summary = f"bulk {rule.value}: {full.eligible} items, {format_amount(full.total)} MDL" + (
        f" ({note})" if note else ""
    )
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, ActionKind.BULK.value)
        if replay is not None:
            return replay
        approval_id = insert_request(
            conn,
            action=ActionKind.BULK.value,
            params=params,
            amount=full.total,
            summary=summary,
            actor=actor.username,
            now=store.now_utc(),
        )
        result = ActionResult(
            action=ActionKind.BULK.value,
            outcome="awaiting_approval",
            message=f"{summary} waits for a supervisor (request {approval_id})",
            approval_id=approval_id,
        )
        tokens.finish_token(conn, form_token, result)
    return result


Progress = Callable[[int, int], None]


def _open_total(lines: Iterable[OpenLine]) -> int:
    return sum(ln.open_amount for ln in lines if ln.open_amount > 0)


def run_approved(
    engine: Engine,
    ap: Approval,
    raw: dict,
    approver: str,
    config: ReviewConfig = DEFAULT_CONFIG,
    progress: Progress | None = None,
) -> ActionResult:
    """Apply an approved bulk request in batches; each batch commits and records progress."""
    todo = [(int(i), int(v), str(a)) for i, v, a in raw["items"]]
    done = skipped = 0
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        with engine.begin() as conn:
            n = _apply_batch(conn, chunk, ap, approver, BulkRule(raw["rule"]), config)
            done, skipped = done + n, skipped + len(chunk) - n
            conn.execute(
                update(approvals)
                .where(approvals.c.id == ap.id)
                .values(
                    result={
                        "progress": start + len(chunk),
                        "total": len(todo),
                        "done": done,
                        "skipped": skipped,
                        "at": store.now_utc().isoformat(),
                    }
                )
            )
        if progress:
            progress(start + len(chunk), len(todo))
    return ActionResult(
        action=ActionKind.BULK.value,
        outcome="done",
        message=f"bulk {raw['rule']}: {done} items resolved, {skipped} skipped (changed since "
        "the preview or refused)",
        approval_id=ap.id,
    )


def _apply_batch(
    conn: Connection,
    chunk: Sequence[tuple[int, int, str]],
    ap: Approval,
    approver: str,
    rule: BulkRule,
    config: ReviewConfig,
) -> int:
    """One batch: lock, re-check versions, compute in memory, write set-based."""
    wanted = {i: (v, a) for i, v, a in chunk}
    if conn.dialect.name == "postgresql":
        conn.execute(select(ri.c.id).where(ri.c.id.in_(list(wanted))).with_for_update())
    items = [
        it
        for it in store.load_items(conn, list(wanted))
        if it.version == wanted[it.id][0]
        and it.state == ReviewState.OPEN.value
        and not it.claimed_by
    ]
    accs = {wanted[it.id][1] for it in items}
    by_account: dict[str, list] = defaultdict(list)
    for ln in store.open_lines(conn, accs):
        by_account[ln.account_no].append(ln)
    known = store.account_status(conn, accs)
    now, day = store.now_utc(), store.correction_day(conn, config.timezone)
    done: list[tuple[ItemState, resolve.Resolution]] = []
    for it in items:
        acc = wanted[it.id][1]
        lines = by_account[acc]
        if rule is not BulkRule.BEST and _open_total(lines) != it.amount:
            continue  # an earlier item of the run paid this account already
        try:
            res = resolve.assign(
                store.core_item(it),
                acc,
                lines,
                known,
                actor=ap.requested_by,
                policy=config.policy,
            )
        except ReviewError:
            continue
        by_account[acc] = open_after(lines, res.rows)
        done.append((it, res))
    if not done:
        return 0
    placed = [(it.payment_id, r) for it, res in done for r in res.rows]
    store.post_rows(conn, placed, day=day, actor=ap.requested_by, now=now)
    conn.execute(
        update(ri)
        .where(ri.c.id == bindparam("iid"), ri.c.version == bindparam("v"))
        .values(
            state=bindparam("st"),
            version=bindparam("nv"),
            resolved_by=bindparam("by"),
            resolved_at=now,
            claimed_by=None,
            claimed_at=None,
        )
        .execution_options(synchronize_session=False),
        [
            {
                "iid": it.id,
                "v": it.version,
                "st": res.item.state.value,
                "nv": res.item.version,
                "by": ap.requested_by,
            }
            for it, res in done
        ],
    )
    conn.execute(
        update(p)
        .where(p.c.id == bindparam("pid"))
        .values(status=bindparam("st"), account_no=bindparam("acc"), reason="RESOLVED"),
        [{"pid": it.payment_id, "st": res.status.value, "acc": res.account_no} for it, res in done],
    )
    conn.execute(
        review_actions.insert(),
        [
            {
                "review_item_id": it.id,
                "actor": ap.requested_by,
                "action": ActionKind.ASSIGN.value,
                "payload": {
                    "account_no": res.account_no,
                    "bulk": ap.id,
                    "approved_by": approver,
                    "business_day": day.isoformat(),
                },
                "from_state": it.state,
                "to_state": res.item.state.value,
                "created_at": now,
            }
            for it, res in done
        ],
    )
    learn.after_bulk(conn, [(it, res) for it, res in done], now)
    return len(done)
