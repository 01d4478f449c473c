"""Another writer commits while a file is applied: the ingest's plans see what it stored.

On SQLite the ingest plans a round in a read transaction (no write lock) and writes it in
short write transactions, re-checking what other writers committed since the plan
(``reconciliation.service.rounds``); on PostgreSQL a round is planned and written in one
transaction, so the commit lands between rounds. Either way: no invoice line is paid twice,
and the outcome is the one planning after the other writer's commit gives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select

import gateway.services.ingest as ingest_service
import reconciliation.service.apply as reconciliation_apply
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.services import ingest_rounds
from gateway.services.agents import add_agent, load_agent
from gateway.services.ingest import ingest_bytes
from gateway.services.payments import PaymentInput, post_payment
from schemas.tables import allocations, invoice_lines, payments, review_actions, review_items
from tests.api.conftest import now_iso
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)
META = StatementMeta(iban="MD24AG000225100013104168", statement_id="STMT-INTERLEAVED")


def _statement() -> bytes:
    entries = [
        WriterEntry(amount=10000, booking_date=DAY, acct_svcr_ref="M1",
                    remittance=f"c/p {ACC_MARIA}", debtor_name="Mariana Turcanu"),
        WriterEntry(amount=50000, booking_date=DAY, acct_svcr_ref="I1",
                    remittance=f"cont personal {ACC_ION}", debtor_name="ION RUSU"),
    ]  # fmt: skip
    return write_camt053(entries, META, version="001.08")


def _between_plan_and_write(monkeypatch: pytest.MonkeyPatch, other: Callable[[], None]) -> None:
    """Run ``other`` once, after the first round was planned and before it is written
    (SQLite), or between the first and the second round (PostgreSQL, rounds of one)."""
    pending = [other]

    class Interleaved(ingest_rounds.Rounds):
        planned = False

        def read(self) -> None:
            super().read()
            self.planned = True

        def write(self, *, last: bool = False) -> None:
            if pending and self.planned:  # SQLite: a round was read and planned
                pending.pop()()
            super().write(last=last)

        def commit(self, done: int) -> None:
            super().commit(done)
            if pending and not self.split:
                pending.pop()()

    monkeypatch.setattr(ingest_rounds, "Rounds", Interleaved)
    monkeypatch.setattr(reconciliation_apply, "ROUND_SIZE", 10_000)
    monkeypatch.setattr(ingest_service.ingest_rounds, "Rounds", Interleaved)


def _post(engine: Engine, txn: str, amount: str) -> Callable[[], None]:
    agent = load_agent(engine, add_agent(engine, "maib").key_id)
    assert agent is not None

    def post() -> None:
        inp = PaymentInput(txn, ACC_ION, amount, "MDL", now_iso())
        assert post_payment(engine, agent, inp, tz=ZoneInfo("Europe/Chisinau")).status == 201

    return post


def _paid_per_line(engine: Engine) -> dict[int, tuple[int, int]]:
    """line id -> (amount due, allocated to it)."""
    with engine.connect() as conn:
        due = dict(conn.execute(select(invoice_lines.c.id, invoice_lines.c.amount_due)).all())
        paid = dict(
            conn.execute(
                select(allocations.c.invoice_line_id, func.sum(allocations.c.amount))
                .where(allocations.c.invoice_line_id.is_not(None))
                .group_by(allocations.c.invoice_line_id)
            ).all()
        )
    return {line: (int(d), int(paid.get(line, 0))) for line, d in due.items()}


def test_a_post_committed_between_plan_and_write_is_seen_by_the_ingest(
    engine, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_tiny_city(engine)
    # the post pays Ion's oldest line (October's heating, 300.00) after the ingest planned
    # its 500.00 for Ion on the same lines
    _between_plan_and_write(monkeypatch, _post(engine, "POST-1", "300.00"))
    if engine.dialect.name != "sqlite":  # rounds of one: Maria's round, then the post
        settings = replace(settings, ingest_round=1)
        monkeypatch.setattr(reconciliation_apply, "ROUND_SIZE", 1)
    result = ingest_bytes(engine, settings, _statement(), filename="i.xml", source="bank")
    assert result.status == "applied", result.reason

    per_line = _paid_per_line(engine)
    assert all(paid <= due for due, paid in per_line.values()), per_line  # nothing paid twice
    with engine.connect() as conn:
        ion = conn.execute(
            select(allocations.c.invoice_line_id, allocations.c.amount)
            .join(payments, payments.c.id == allocations.c.payment_id)
            .where(payments.c.external_id == "I1")
        ).all()
    october = next(line for line, (due, _) in per_line.items() if due == 30000)
    assert october not in {line for line, _ in ion}  # the post had paid it
    assert sum(a for _, a in ion) == 50000


def test_a_review_action_between_plan_and_write_plans_the_round_again(
    engine, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change the re-check cannot describe by keys (here: a review action's row) makes
    the rest of the round be planned again; the file is applied as it would be alone."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans and writes a round in one transaction")
    load_tiny_city(engine)
    replanned = []
    again = reconciliation_apply._Apply.again

    def counting(self, items):  # type: ignore[no-untyped-def]
        replanned.append(len(items))
        return again(self, items)

    monkeypatch.setattr(reconciliation_apply._Apply, "again", counting)

    first = write_camt053(
        [WriterEntry(amount=700, booking_date=DAY, acct_svcr_ref="R0", remittance="chirie")],
        StatementMeta(iban=META.iban, statement_id="FIRST"),
        version="001.08",
    )
    assert ingest_bytes(engine, settings, first, filename="f.xml", source="bank").counts["review"]
    with engine.connect() as conn:
        item = conn.execute(select(review_items.c.id)).scalar_one()

    def review_action() -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(review_actions).values(review_item_id=item, actor="ana", action="note",
                    payload={}, from_state="open", to_state="open", created_at=datetime.now(UTC))
            )  # fmt: skip

    _between_plan_and_write(monkeypatch, review_action)
    result = ingest_bytes(engine, settings, _statement(), filename="r.xml", source="bank")
    assert result.status == "applied", result.reason
    assert replanned == [2]
    assert result.counts["allocated"] == 2


def test_rounds_are_planned_without_holding_the_write_lock(
    engine, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: while the ingest reads and matches, another writer gets the lock at once
    (SQLite; a read transaction, its key sets in the temp database)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no global write lock")
    load_tiny_city(engine)
    free: list[bool] = []
    plan = reconciliation_apply.plan_credits

    def probing(conn, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = plan(conn, *args, **kwargs)  # its key sets filled, its reads done
        other = sqlite3.connect(engine.url.database, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        other.close()
        return out

    monkeypatch.setattr(reconciliation_apply, "plan_credits", probing)
    result = ingest_bytes(engine, settings, _statement(), filename="p.xml", source="bank")
    assert result.status == "applied", result.reason
    assert free == [True]
