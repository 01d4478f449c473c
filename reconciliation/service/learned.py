"""The rules learned from accountants' decisions, loaded once per ingest for the pure matcher
(``reconciliation.learning``), and the placements they made."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from reconciliation.learning import DEFAULT_LEARN_AFTER, LearnedRules, Rule
from reconciliation.plan import Planned
from schemas.bulk import bulk_insert, db_value
from schemas.tables import accounts, learned_placements, learned_rules

lr = learned_rules


def retire_closed(conn: Connection) -> int:
    """Retire every active rule whose account is closed now (shown with the reason)."""
    closed = select(accounts.c.account_no).where(accounts.c.status == "closed")
    done = conn.execute(
        update(lr)
        .where(lr.c.kind == "place", lr.c.status == "active", lr.c.account_no.in_(closed))
        .values(
            status="retired",
            status_reason="the account is closed",
            updated_at=datetime.now(UTC),
            updated_by="system",
        )
    )
    return done.rowcount or 0


def load_rules(conn: Connection, *, learn_after: int = DEFAULT_LEARN_AFTER) -> LearnedRules:
    """Active placing rules with at least ``learn_after`` decisions, and every decline."""
    retire_closed(conn)
    rules = LearnedRules()
    q = select(lr.c.id, lr.c.kind, lr.c.payer_key, lr.c.account_no, lr.c.decisions).where(
        lr.c.status == "active"
    )
    declined: dict[str, set[str]] = defaultdict(set)
    for rid, kind, key, account_no, decisions in conn.execute(q):
        if kind == "decline":
            declined[key].add(account_no)
        elif decisions >= learn_after:
            rules.place[key] = Rule(rid, account_no, decisions)
    rules.declined = {k: frozenset(v) for k, v in declined.items()}
    return rules


def record_placements(conn: Connection, placed: Sequence[tuple[int, Planned]]) -> int:
    """One row per payment a rule placed (the rule's "placed" count), in one insert."""
    rows = [(pid, p.learned_rule) for pid, p in placed if p.learned_rule is not None]
    if not rows:
        return 0
    now = db_value(conn, datetime.now(UTC))
    return bulk_insert(
        conn,
        learned_placements,
        ("payment_id", "rule_id", "created_at"),
        [(pid, rid, now) for pid, rid in rows],
    )
