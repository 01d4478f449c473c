"""Review items of a file still being applied are held: no person acts on them, so a file
found bad late is undone whole (issue 14).

An ingest commits in rounds; a late parse error then undoes the file by its identity. Had an
accountant commented on, claimed or taken back one of its payments meanwhile, the undo would
meet a foreign key (or delete a person's work). So its review items are written ``held``
(not in the queue, no action) and opened by the file's last transaction, and its payments
cannot be taken back before the file is applied. Both databases.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest
from sqlalchemy import func, select

import gateway.services.ingest as ingest_service
import reconciliation.service.apply as reconciliation_apply
from connectors.formats.base import ReadOptions
from connectors.parse_worker import read_in_worker
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.errors import UserError
from gateway.services import ingest_rounds
from gateway.services.ingest import ingest_bytes
from gateway.services.review.approvals import unmatch
from gateway.services.review.marks import claim, comment
from schemas.tables import payments, review_actions, review_items
from tests.integration.citykit import ACC_ION, load_tiny_city
from tests.integration.reviewkit import ANA

DAY = date(2026, 11, 20)
IBAN = "MD24AG000225100013104168"


def _entries() -> list[WriterEntry]:
    return [
        WriterEntry(amount=100, booking_date=DAY, acct_svcr_ref="H0", remittance=f"c/p {ACC_ION}"),
        WriterEntry(amount=200, booking_date=DAY, acct_svcr_ref="H1", remittance="chirie"),
        WriterEntry(amount=300, booking_date=DAY, acct_svcr_ref="H2", remittance="chirie"),
    ]


@pytest.fixture
def in_rounds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Rounds of one record read by the parse worker; after the second round commits, an
    accountant tries to act on what the file wrote so far. Returns what was refused."""
    monkeypatch.setattr(ingest_service, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_service, "read_in_worker", partial(read_in_worker, batch=1))
    monkeypatch.setattr(reconciliation_apply, "ROUND_SIZE", 1)
    refused: list[str] = []

    class Meddled(ingest_rounds.Rounds):
        def commit(self, done: int) -> None:
            super().commit(done)
            if done == 2 and not refused:
                refused.extend(_meddle(self.conn.engine))

    monkeypatch.setattr(ingest_service.ingest_rounds, "Rounds", Meddled)
    return refused


def _meddle(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        items = conn.execute(select(review_items.c.id, review_items.c.state)).all()
        placed = conn.execute(select(payments.c.id).where(payments.c.status == "allocated"))
        placed_id = placed.scalar_one()
    assert [state for _, state in items] == ["held"]  # not "open": not in the queue
    refused = []
    for name, act in (
        ("comment", lambda: comment(engine, ANA, items[0].id, "looks like rent")),
        ("claim", lambda: claim(engine, ANA, items[0].id)),
        ("unmatch", lambda: unmatch(engine, ANA, placed_id, reason="wrong account")),
    ):
        try:
            act()
        except UserError as exc:
            assert "being applied" in str(exc), str(exc)
            refused.append(name)
    return refused


def test_a_file_found_bad_late_is_undone_whole_after_people_tried_to_act(
    engine, settings, in_rounds: list[str]
) -> None:
    load_tiny_city(engine)
    meta = StatementMeta(iban=IBAN, statement_id="LATE", closing_balance=1)
    data = write_camt053(_entries(), meta, version="001.08")  # balances checked at the end
    strict = ReadOptions(strict_balances=True)
    result = ingest_bytes(
        engine, settings, data, filename="late.xml", source="bank", options=strict
    )
    assert in_rounds == ["comment", "claim", "unmatch"]
    assert result.status == "quarantined" and "balances do not agree" in (result.reason or "")
    with engine.connect() as conn:
        left = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (payments, review_items, review_actions)
        ]
    assert left == [0, 0, 0]


def test_the_files_last_transaction_opens_its_items(engine, settings, in_rounds) -> None:
    load_tiny_city(engine)
    data = write_camt053(_entries(), StatementMeta(iban=IBAN, statement_id="OK"), version="001.08")
    result = ingest_bytes(engine, settings, data, filename="ok.xml", source="bank")
    assert result.status == "applied", result.reason
    assert in_rounds == ["comment", "claim", "unmatch"]
    with engine.connect() as conn:
        states = conn.execute(select(review_items.c.state)).scalars().all()
    assert states == ["open", "open"]
    assert claim(engine, ANA, _first_item(engine)).outcome  # actionable now


def _first_item(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.min(review_items.c.id))).scalar_one()
