"""What resolutions teach the matcher (``learned_rules``), and the rules page's reads and
switches.

An assign is evidence that the payer (``reconciliation.learning.payer_keys``) belongs to
that account and that the other candidates do not; a return or a "not a utility payment"
declines every candidate. A payer seen with two accounts retires the rules of both (shown
with the reason): zero misallocations matter more than the rate. An undo takes its decision's
evidence back. Rows are workflow state, rewritten in place; the money is never touched here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from gateway.db import reading
from gateway.errors import NotFound
from gateway.services.people import Actor, Role
from gateway.services.review.structs import ItemState
from reconciliation.learning import Lesson, lesson, payer_keys
from reconciliation.resolve import Resolution
from reconciliation.review import RESOLUTIONS, ActionKind
from schemas.tables import learned_placements, learned_rules, payments, review_actions

lr = learned_rules
_TEACHES = (ActionKind.ASSIGN, ActionKind.RETURN, ActionKind.NOT_UTILITY)
_RULE_FIELDS = ("decisions", "evidence", "status", "status_reason", "updated_at", "updated_by")


def after_action(
    conn: Connection,
    item: ItemState,
    res: Resolution,
    action_id: int,
    actor: str,
    now: datetime,
) -> None:
    """Record what a resolution teaches, or forget what an undo takes back."""
    if res.action is ActionKind.UNDO:
        _forget(conn, item, actor, now)
    elif res.action in _TEACHES:
        teach(conn, [(item, res.account_no, action_id)], actor, now)


def after_bulk(conn: Connection, done: list[tuple[ItemState, Resolution]], now: datetime) -> None:
    """A bulk run's assignments as evidence; their action ids are read back in one query."""
    if not done:
        return
    ids = dict(
        conn.execute(
            select(review_actions.c.review_item_id, func.max(review_actions.c.id))
            .where(review_actions.c.review_item_id.in_([it.id for it, _ in done]))
            .group_by(review_actions.c.review_item_id)
        ).all()
    )
    actor = done[0][1].item.resolved_by or ""
    teach(conn, [(it, res.account_no, ids[it.id]) for it, res in done], actor, now)


def _keys(conn: Connection, payment_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    p = payments
    q = select(p.c.id, p.c.debtor_iban, p.c.debtor_name, p.c.remittance).where(
        p.c.id.in_(sorted(set(payment_ids)))
    )
    return {pid: payer_keys(iban, name, text) for pid, iban, name, text in conn.execute(q)}


def teach(
    conn: Connection,
    decided: Sequence[tuple[ItemState, str | None, int]],
    actor: str,
    now: datetime,
) -> None:
    """(item, account placed on or None, action id) -> rules updated in two statements."""
    keys = _keys(conn, [it.payment_id for it, _, _ in decided])
    lessons: list[tuple[Lesson, int]] = []
    for it, account_no, action_id in decided:
        cands = [c.account_no for c in it.candidates]
        found = lesson(keys.get(it.payment_id, ()), account_no, cands)
        if found is not None:
            lessons.append((found, action_id))
    if not lessons:
        return
    book = _Book(conn, {k for ls, _ in lessons for k in ls.keys}, actor, now)
    for ls, action_id in lessons:
        for key in ls.keys:
            if ls.account_no:
                book.place(key, ls.account_no, action_id)
            for acc in ls.declined:
                book.decline(key, acc, action_id)
    book.write()


class _Book:
    """The rules of some payer keys in memory; changed rows written back set-based."""

    def __init__(self, conn: Connection, keys: set[str], actor: str, now: datetime) -> None:
        self.conn, self.actor, self.now = conn, actor, now
        self.rows: dict[tuple[str, str, str], dict] = {}
        ordered = sorted(keys)
        for i in range(0, len(ordered), 500):
            q = select(lr).where(lr.c.payer_key.in_(ordered[i : i + 500]))
            for r in conn.execute(q).mappings():
                self.rows[(r["kind"], r["payer_key"], r["account_no"])] = dict(r)
        self.changed: set[tuple[str, str, str]] = set()

    def _row(self, kind: str, key: str, acc: str) -> dict:
        row = self.rows.get((kind, key, acc))
        if row is None:
            row = {
                "kind": kind,
                "payer_key": key,
                "account_no": acc,
                "decisions": 0,
                "evidence": [],
                "status": "active",
                "status_reason": None,
                "created_at": self.now,
            }
            self.rows[(kind, key, acc)] = row
        self.changed.add((kind, key, acc))
        return row

    def _retire(self, row: dict, why: str) -> None:
        if row["status"] == "active":
            row["status"], row["status_reason"] = "retired", why
            self.changed.add((row["kind"], row["payer_key"], row["account_no"]))

    def place(self, key: str, acc: str, action_id: int) -> None:
        row = self._row("place", key, acc)
        row["decisions"] += 1
        row["evidence"] = [*row["evidence"], action_id]
        others = [
            r
            for (k, pk, a), r in self.rows.items()
            if k == "place" and pk == key and a != acc and r["decisions"] > 0
        ]
        if others:
            seen = ", ".join(sorted({acc, *(r["account_no"] for r in others)}))
            for r in [row, *others]:
                self._retire(r, f"contradicted: the payer was placed on {seen}")
        declined = self.rows.get(("decline", key, acc))
        if declined is not None:
            self._retire(declined, f"chosen by decision {action_id}")

    def decline(self, key: str, acc: str, action_id: int) -> None:
        row = self._row("decline", key, acc)
        row["decisions"] += 1
        row["evidence"] = [*row["evidence"], action_id]
        placed = self.rows.get(("place", key, acc))
        if placed is not None:
            self._retire(placed, f"contradicted: declined by decision {action_id}")

    def write(self) -> None:
        new: list[dict] = []
        old: list[dict] = []
        for k in self.changed:
            row = self.rows[k]
            row["updated_at"], row["updated_by"] = self.now, self.actor
            (old if "id" in row else new).append(row)
        if new:
            self.conn.execute(insert(lr), [{c: r[c] for c in _INSERT} for r in new])
        if old:
            self.conn.execute(
                update(lr)
                .where(lr.c.id == bindparam("rid"))
                .values({c: bindparam(c) for c in _RULE_FIELDS}),
                [{"rid": r["id"], **{c: r[c] for c in _RULE_FIELDS}} for r in old],
            )


_INSERT = ("kind", "payer_key", "account_no", "created_at", *_RULE_FIELDS)


def _forget(conn: Connection, item: ItemState, actor: str, now: datetime) -> None:
    """An undo: the undone decision's evidence is taken out of every rule that holds it."""
    ra = review_actions
    undone = conn.execute(
        select(func.max(ra.c.id)).where(
            ra.c.review_item_id == item.id, ra.c.action.in_([k.value for k in RESOLUTIONS])
        )
    ).scalar()
    keys = _keys(conn, [item.payment_id]).get(item.payment_id, ())
    if undone is None or not keys:
        return
    book = _Book(conn, set(keys), actor, now)
    for k, row in book.rows.items():
        if undone in row["evidence"]:
            row["evidence"] = [e for e in row["evidence"] if e != undone]
            row["decisions"] -= 1
            book.changed.add(k)
            if row["decisions"] <= 0:
                book._retire(row, "its decisions were undone")
    book.write()


def placement_taken_back(conn: Connection, payment_id: int, actor: str, now: datetime) -> None:
    """An unmatch of a payment a rule placed contradicts the rule: it is retired, shown."""
    rule_id = conn.execute(
        select(learned_placements.c.rule_id).where(learned_placements.c.payment_id == payment_id)
    ).scalar()
    if rule_id is not None:
        conn.execute(
            update(lr)
            .where(lr.c.id == rule_id, lr.c.status == "active")
            .values(
                status="retired",
                status_reason=f"contradicted: its placement of payment {payment_id} was taken back",
                updated_at=now,
                updated_by=actor,
            )
        )


# --- the rules page ---------------------------------------------------------------------------


class RuleView(msgspec.Struct, frozen=True):
    id: int
    kind: str
    payer_key: str
    account_no: str
    decisions: int
    evidence: list[int]  # review_actions ids: the decisions that taught it
    status: str
    status_reason: str | None
    placed: int  # payments the matcher placed by it
    updated_at: datetime
    updated_by: str | None


def list_rules(
    engine: Engine,
    *,
    status: str | None = None,
    kind: str = "place",
    limit: int = 200,
    rule_id: int | None = None,
) -> list[RuleView]:
    """Rules with how many payments each placed, most used first."""
    placed = (
        select(learned_placements.c.rule_id, func.count().label("n"))
        .group_by(learned_placements.c.rule_id)
        .subquery()
    )
    q = (
        select(lr, func.coalesce(placed.c.n, 0).label("placed"))
        .outerjoin(placed, placed.c.rule_id == lr.c.id)
        .where(lr.c.kind == kind if rule_id is None else lr.c.id == rule_id)
        .order_by(func.coalesce(placed.c.n, 0).desc(), lr.c.decisions.desc(), lr.c.id)
        .limit(limit)
    )
    if status:
        q = q.where(lr.c.status == status)
    if rule_id is not None:
        q = q.where(lr.c.id == rule_id)
    with reading(engine) as conn:
        rows = conn.execute(q).mappings().all()
    return [
        RuleView(
            r["id"],
            r["kind"],
            r["payer_key"],
            r["account_no"],
            r["decisions"],
            list(r["evidence"]),
            r["status"],
            r["status_reason"],
            int(r["placed"]),
            r["updated_at"],
            r["updated_by"],
        )
        for r in rows
    ]


def set_rule_enabled(
    engine: Engine, actor: Actor, rule_id: int, *, enabled: bool, reason: str = ""
) -> RuleView:
    """A supervisor disables a rule (it places nothing more) or enables it again."""
    actor.require(Role.SUPERVISOR)
    from gateway.services.review.store import now_utc

    with engine.begin() as conn:
        found = conn.execute(
            update(lr)
            .where(lr.c.id == rule_id)
            .values(
                status="active" if enabled else "disabled",
                status_reason=None if enabled else (reason or f"disabled by {actor.username}"),
                updated_at=now_utc(),
                updated_by=actor.username,
            )
        )
        if found.rowcount != 1:
            raise NotFound(f"no learned rule {rule_id}")
    return list_rules(engine, rule_id=rule_id)[0]
