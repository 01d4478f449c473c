"""`gateway ingest`: stored first, applied whole or not at all, idempotent, on both backends."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest
from sqlalchemy import func, select

import gateway.services.ingest as ingest_service
import reconciliation.service.apply as reconciliation_apply
from connectors.formats.base import FileReading, ReadOptions
from connectors.parse_worker import WorkerFailed, parse_in_worker, read_in_worker
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.services import rawstore
from gateway.services.ingest import ingest_bytes
from schemas.tables import (
    allocations,
    payments,
    raw_files,
    review_items,
    statement_findings,
    statements,
)
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)
META = StatementMeta(iban="MD24AG000225100013104168", statement_id="STMT-20261120")


def _statement(*entries: WriterEntry) -> bytes:
    return write_camt053(list(entries), META, version="001.08")


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (payments, allocations, review_items)
        }


def test_transfer_with_account_in_text_is_allocated_oldest_first(engine, settings) -> None:
    load_tiny_city(engine)
    text = f"Plata cont personal {ACC_ION[:7]}-{ACC_ION[7]} noiembrie, Ion Rusu"
    data = _statement(
        WriterEntry(
            amount=50000,
            booking_date=DAY,
            acct_svcr_ref="B1",
            remittance=text,
            debtor_name="ION RUSU",
        )
    )
    result = ingest_bytes(engine, settings, data, filename="s.xml", source="bank")
    assert result.status == "applied", result.reason
    with engine.connect() as conn:
        pay = conn.execute(select(payments)).one()
        rows = conn.execute(select(allocations.c.amount, allocations.c.invoice_line_id)).all()
    assert (pay.status, pay.account_no, pay.business_day) == ("allocated", ACC_ION, DAY)
    assert sum(a for a, _ in rows) == 50000
    # October's 300.00 heating first, then November's lines share the remaining 200.00
    assert dict((line, a) for a, line in rows)[1] == 30000


def test_same_file_twice_is_a_noop(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(
        WriterEntry(
            amount=25000,
            booking_date=DAY,
            acct_svcr_ref="B2",
            remittance=f"c/p {ACC_MARIA}",
            debtor_name="Mariana Turcanu",
        )
    )
    first = ingest_bytes(engine, settings, data, filename="s.xml", source="bank")
    before = _counts(engine)
    second = ingest_bytes(engine, settings, data, filename="s-again.xml", source="bank")
    assert first.status == "applied" and second.status == "duplicate"
    assert "already ingested" in second.describe()
    assert _counts(engine) == before


def test_truncated_file_is_quarantined_whole_and_kept(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(
        WriterEntry(amount=100, booking_date=DAY, acct_svcr_ref="B3", remittance=f"cont {ACC_ION}"),
        WriterEntry(amount=200, booking_date=DAY, acct_svcr_ref="B4", remittance=f"cont {ACC_ION}"),
    )
    cut = data[: len(data) * 2 // 3]
    result = ingest_bytes(engine, settings, cut, filename="cut.xml", source="bank")
    assert result.status == "quarantined" and result.exit_code != 0
    assert _counts(engine) == {"payments": 0, "allocations": 0, "review_items": 0}
    with engine.connect() as conn:
        raw = conn.execute(select(raw_files)).one()
    assert raw.status == "quarantined" and raw.reason
    assert rawstore.load(settings.raw_dir, raw.sha256) == cut


def test_unplaceable_payment_goes_to_review_with_reason(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(
        WriterEntry(
            amount=12345,
            booking_date=DAY,
            acct_svcr_ref="B5",
            remittance="pentru apa, str. Ismail 86 ap 12",
            debtor_name="Rusu I.",
        )
    )
    ingest_bytes(engine, settings, data, filename="s.xml", source="bank")
    with engine.connect() as conn:
        pay = conn.execute(select(payments)).one()
        item = conn.execute(select(review_items)).one()
        n_alloc = conn.execute(select(func.count()).select_from(allocations)).scalar_one()
    assert pay.status == "review" and n_alloc == 0
    assert item.payment_id == pay.id and item.reason == pay.reason and item.state == "open"


def test_reversal_compensates_the_original(engine, settings) -> None:
    load_tiny_city(engine)
    credit = WriterEntry(
        amount=20000, booking_date=DAY, acct_svcr_ref="B6", remittance=f"cont personal {ACC_MARIA}"
    )
    ingest_bytes(engine, settings, _statement(credit), filename="a.xml", source="bank")
    storno = WriterEntry(
        amount=20000,
        booking_date=date(2026, 11, 21),
        acct_svcr_ref="B6",
        direction="debit",
        reversal=True,
        remittance="storno",
    )
    r = ingest_bytes(engine, settings, _statement(storno), filename="b.xml", source="bank")
    assert r.status == "applied", r.reason
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(payments.c.id, payments.c.status)).all())
        total = conn.execute(select(func.sum(allocations.c.amount))).scalar_one()
        kinds = conn.execute(
            select(allocations.c.kind, func.count()).group_by(allocations.c.kind)
        ).all()
    assert set(statuses.values()) == {"reversed"}
    assert total == 0
    assert dict(kinds)["reversal"] == dict(kinds)["payment"]


def test_reversals_of_a_file_find_their_originals_together(engine, settings) -> None:
    """By servicer reference and amount, else end-to-end id; an original reversed twice in
    one file is compensated once; a reversal whose amount differs goes to review."""
    load_tiny_city(engine)
    credits = [
        WriterEntry(amount=10000, booking_date=DAY, acct_svcr_ref="B10", end_to_end_id="E10",
                    remittance=f"cont personal {ACC_MARIA}"),
        WriterEntry(amount=15000, booking_date=DAY, acct_svcr_ref="B11", end_to_end_id="E11",
                    remittance=f"cont personal {ACC_ION}"),
        WriterEntry(amount=5000, booking_date=DAY, acct_svcr_ref="B12",
                    remittance=f"cont personal {ACC_MARIA}"),
    ]  # fmt: skip
    ingest_bytes(engine, settings, _statement(*credits), filename="a.xml", source="bank")
    storno = partial(WriterEntry, booking_date=date(2026, 11, 21), direction="debit",
                     reversal=True, remittance="storno")  # fmt: skip
    stornos = [
        storno(amount=10000, acct_svcr_ref="B10"),
        storno(amount=15000, acct_svcr_ref="NOT-KNOWN", end_to_end_id="E11"),
        storno(amount=4999, acct_svcr_ref="B12"),
        storno(amount=10000, acct_svcr_ref="B10", entry_ref="again"),
    ]
    r = ingest_bytes(engine, settings, _statement(*stornos), filename="b.xml", source="bank")
    assert r.status == "applied", r.reason
    with engine.connect() as conn:
        pays = conn.execute(
            select(payments.c.id, payments.c.amount, payments.c.reversal, payments.c.status,
                   payments.c.reverses_payment_id, payments.c.reason).order_by(payments.c.id)
        ).all()  # fmt: skip
        by_kind = dict(
            conn.execute(
                select(allocations.c.kind, func.sum(allocations.c.amount)).group_by(
                    allocations.c.kind
                )
            ).all()
        )
        b10_kinds = dict(
            conn.execute(
                select(allocations.c.kind, func.count())
                .where(allocations.c.payment_id == pays[0].id)
                .group_by(allocations.c.kind)
            ).all()
        )
    b10, b11, b12, *reversals = pays
    assert (b10.status, b11.status, b12.status) == ("reversed", "reversed", "allocated")
    assert by_kind["reversal"] == -(10000 + 15000)
    assert b10_kinds["reversal"] == b10_kinds["payment"]  # compensated once, not twice
    pointed = sorted((p.amount, p.status, p.reverses_payment_id) for p in reversals)
    assert pointed == [
        (4999, "review", None),
        (10000, "reversed", b10.id),
        (10000, "reversed", b10.id),
        (15000, "reversed", b11.id),
    ]
    assert [p.reason for p in reversals if p.status == "review"] == ["REVERSAL_UNMATCHED"]


def test_same_account_and_amount_from_another_channel_is_flagged(engine, settings) -> None:
    from fixtures.writers.post_registry import PostLine, write_post_registry

    load_tiny_city(engine)
    post = write_post_registry(
        [PostLine(ACC_MARIA, 25000, DAY, "MD-2068", "R9")], registry_date=DAY
    )
    ingest_bytes(engine, settings, post, filename="reg.txt", source="posta")
    transfer = _statement(
        WriterEntry(
            amount=25000,
            booking_date=date(2026, 11, 21),
            acct_svcr_ref="B9",
            remittance=f"cont personal {ACC_MARIA}",
            debtor_name="Mariana Turcanu",
        )
    )
    ingest_bytes(engine, settings, transfer, filename="s.xml", source="bank")
    with engine.connect() as conn:
        rows = conn.execute(select(payments.c.channel, payments.c.status, payments.c.reason)).all()
    assert sorted(rows) == [("post", "allocated", None), ("transfer", "review", "LIKELY_DUPLICATE")]


def test_two_identical_payments_in_one_file_both_count(engine, settings) -> None:
    from fixtures.writers.post_registry import PostLine, write_post_registry

    load_tiny_city(engine)
    line = PostLine(ACC_ION, 1000, DAY, "MD-2068", "R1")
    twin = PostLine(ACC_ION, 1000, DAY, "MD-2068", "R2")
    data = write_post_registry([line, twin], registry_date=DAY)
    ingest_bytes(engine, settings, data, filename="reg.txt", source="posta")
    with engine.connect() as conn:
        statuses = conn.execute(select(payments.c.status)).scalars().all()
        total = conn.execute(select(func.sum(allocations.c.amount))).scalar_one()
    assert statuses == ["allocated", "allocated"] and total == 2000


def test_bare_number_confirmed_by_the_payer_name_is_placed(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(
        WriterEntry(
            amount=25000,
            booking_date=DAY,
            acct_svcr_ref="B10",
            remittance=f"plata {ACC_MARIA} noiembrie",
            debtor_name="TURCANU MARIANA",
        )
    )
    ingest_bytes(engine, settings, data, filename="s.xml", source="bank")
    with engine.connect() as conn:
        pay = conn.execute(select(payments)).one()
    assert (pay.status, pay.account_no) == ("allocated", ACC_MARIA)


def test_check_digit_typo_goes_to_review_with_the_correction_as_candidate(engine, settings) -> None:
    load_tiny_city(engine)
    wrong = ACC_MARIA[:7] + str((int(ACC_MARIA[7]) + 1) % 10)
    data = _statement(
        WriterEntry(
            amount=12345,
            booking_date=DAY,
            acct_svcr_ref="B11",
            remittance=f"cont personal {wrong}",
            debtor_name="Ion Ionescu",
        )
    )
    ingest_bytes(engine, settings, data, filename="s.xml", source="bank")
    with engine.connect() as conn:
        pay = conn.execute(select(payments)).one()
        item = conn.execute(select(review_items)).one()
    assert pay.status == "review" and pay.account_no is None
    assert ACC_MARIA in [c["account_no"] for c in item.candidates]


# --- large files: parsed by a worker process while the rounds are applied -------------------


@pytest.fixture
def through_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file goes through the parse worker, in rounds of one record, so that rounds are
    applied before the worker has read the end of the file."""
    monkeypatch.setattr(ingest_service, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_service, "read_in_worker", partial(read_in_worker, batch=1))
    monkeypatch.setattr(reconciliation_apply, "ROUND_SIZE", 1)


def test_file_read_by_the_worker_is_applied_like_any_other(
    engine, settings, through_worker
) -> None:
    load_tiny_city(engine)
    data = _statement(
        WriterEntry(amount=100, booking_date=DAY, acct_svcr_ref="W1", remittance=f"c/p {ACC_ION}"),
        WriterEntry(
            amount=200, booking_date=DAY, acct_svcr_ref="W2", remittance=f"c/p {ACC_MARIA}"
        ),
    )
    result = ingest_bytes(engine, settings, data, filename="w.xml", source="bank")
    assert (result.status, result.records, result.counts["allocated"]) == ("applied", 2, 2)
    with engine.connect() as conn:
        raw = conn.execute(select(raw_files)).one()
        placed = dict(conn.execute(select(payments.c.external_id, payments.c.account_no)).all())
    assert (raw.status, raw.records) == ("applied", 2)
    assert placed == {"W1": ACC_ION, "W2": ACC_MARIA}


def test_error_found_by_the_worker_at_the_end_rolls_back_every_round(
    engine, settings, through_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_tiny_city(engine)
    entries = [
        WriterEntry(
            amount=100, booking_date=DAY, acct_svcr_ref=f"E{i}", remittance=f"c/p {ACC_ION}"
        )
        for i in range(3)
    ]
    meta = StatementMeta(iban=META.iban, statement_id="BAD", closing_balance=1)
    data = write_camt053(entries, meta, version="001.08")  # balances checked after the entries
    persisted: list[int] = []
    real_persist = reconciliation_apply.persist

    def persist(conn, plans, **kw):  # type: ignore[no-untyped-def]
        real_persist(conn, plans, **kw)
        persisted.append(len(plans))

    monkeypatch.setattr(reconciliation_apply, "persist", persist)
    strict = ReadOptions(strict_balances=True)
    result = ingest_bytes(engine, settings, data, filename="bad.xml", source="bank", options=strict)
    assert sum(persisted) == 3  # every entry was written in its round before the error came
    assert result.status == "quarantined" and "balances do not agree" in (result.reason or "")
    assert _counts(engine) == {"payments": 0, "allocations": 0, "review_items": 0}
    with engine.connect() as conn:
        raw = conn.execute(select(raw_files)).one()
    assert raw.status == "quarantined" and rawstore.load(settings.raw_dir, raw.sha256) == data


def test_a_failing_worker_leaves_the_file_to_be_retried(
    engine, settings, through_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_tiny_city(engine)
    monkeypatch.setattr(ingest_service, "read_in_worker", _dead_worker)
    data = _statement(
        WriterEntry(amount=100, booking_date=DAY, acct_svcr_ref="F1"),
        WriterEntry(amount=200, booking_date=DAY, acct_svcr_ref="F2"),
    )
    result = ingest_bytes(engine, settings, data, filename="f.xml", source="bank")
    assert result.status == "failed" and "WorkerFailed" in (result.reason or "")
    # the round committed before the worker died stays; the file is left to resume
    assert _counts(engine)["payments"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(raw_files.c.status)).scalar_one() == "received"
    monkeypatch.setattr(ingest_service, "read_in_worker", partial(read_in_worker, batch=1))
    again = ingest_bytes(engine, settings, data, filename="f.xml", source="bank")
    assert again.status == "applied" and _counts(engine)["payments"] == 2  # each once


def _dead_worker(path, fmt, options):  # type: ignore[no-untyped-def]
    """A worker that reads one record, then dies."""

    def records():  # type: ignore[no-untyped-def]
        yield from list(parse_in_worker(path, fmt))[:1]
        raise WorkerFailed("parse worker exited with code -9")

    return FileReading(records())


@pytest.mark.parametrize("round_size", [10_000, 1], ids=["same round", "later round"])
def test_a_bank_reference_twice_in_one_file_is_kept_twice_and_sent_to_review(
    engine, settings, monkeypatch: pytest.MonkeyPatch, round_size: int
) -> None:
    load_tiny_city(engine)
    monkeypatch.setattr(reconciliation_apply, "ROUND_SIZE", round_size)
    twice = [
        WriterEntry(amount=700, booking_date=DAY, acct_svcr_ref="SAME", remittance=f"c/p {ACC_ION}")
        for _ in range(2)
    ]
    result = ingest_bytes(engine, settings, _statement(*twice), filename="t.xml", source="bank")
    assert result.status == "applied" and result.records == 2
    with engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.external_id, payments.c.status).order_by(payments.c.id)
        ).all()
        reasons = conn.execute(select(review_items.c.reason)).scalars().all()
    assert [tuple(r) for r in rows] == [("SAME", "allocated"), ("SAME~2", "review")]
    assert reasons == ["LIKELY_DUPLICATE"]


def test_balances_that_disagree_are_ingested_and_stored_as_a_finding(engine, settings) -> None:
    load_tiny_city(engine)
    entries = [
        WriterEntry(
            amount=100, booking_date=DAY, acct_svcr_ref=f"G{i}", remittance=f"c/p {ACC_ION}"
        )
        for i in range(2)
    ]
    meta = StatementMeta(
        iban=META.iban, statement_id="ST-9", opening_balance=500, closing_balance=600
    )
    result = ingest_bytes(engine, settings, write_camt053(entries, meta), filename="s.xml")
    assert result.status == "applied" and result.records == 2
    assert (result.counts["statements"], result.counts["findings"]) == (1, 1)
    with engine.connect() as conn:
        st = conn.execute(select(statements)).one()
        finding = conn.execute(select(statement_findings)).one()
    assert (st.statement_id, st.account_iban, st.kind) == ("ST-9", META.iban, "statement")
    assert (st.opening_balance, st.closing_balance, st.credits, st.debits) == (500, 600, 200, 0)
    assert (st.entry_count, st.business_day) == (2, DAY)
    assert (finding.kind, finding.expected, finding.actual, finding.difference) == (
        "balance_mismatch",
        700,
        600,
        -100,
    )
    assert finding.statement_id == st.id and finding.business_day == DAY
    assert finding.acknowledged_by is None and "balances do not agree" in finding.detail


@pytest.mark.parametrize("order", ["number first", "name-only first"])
def test_a_payment_is_matched_the_same_whatever_its_neighbours(engine, settings, order) -> None:
    """Regression (issue 9, defect 1): a bare number that the payer's name confirms was sent
    to review when a name-only payment came after it in the file (that one loads every
    holder's name, and the number's record was then not matched again)."""
    load_tiny_city(engine)
    number = WriterEntry(
        amount=10_000,
        booking_date=DAY,
        acct_svcr_ref="NUM",
        remittance=f"plata {ACC_ION}",
        debtor_name="Ion Rusu",
    )
    name_only = WriterEntry(
        amount=5_000, booking_date=DAY, acct_svcr_ref="NAME", remittance="Mariana Turcanu"
    )
    entries = [number, name_only] if order == "number first" else [name_only, number]
    result = ingest_bytes(engine, settings, _statement(*entries), filename="o.xml", source="b")
    assert result.status == "applied"
    with engine.connect() as conn:
        row = conn.execute(
            select(payments.c.status, payments.c.account_no, payments.c.reason).where(
                payments.c.external_id == "NUM"
            )
        ).one()
    assert tuple(row) == ("allocated", ACC_ION, None)
