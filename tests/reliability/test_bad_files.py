"""Bad files end applied (with per-record reviews) or quarantined, never "retried forever".

Issue 14, defect 3, on SQLite and PostgreSQL: entries dated 0001-01-01 / 9999-12-31 failed
with OverflowError in the duplicate window; a 200-character AcctSvcrRef or a 5,000-character
debtor name failed PostgreSQL's column limits; a 9,999,999,999.99 MDL entry was placed as
advance credit; two simultaneous ingests of one file on PostgreSQL could leave it "received".
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.services.ingest import ingest_bytes
from reconciliation.service.apply import business_today
from schemas.tables import allocations, payments, raw_files, review_items
from tests.integration.citykit import ACC_ION, load_tiny_city

META = StatementMeta(iban="MD24AG000225100013104168", statement_id="STMT-BAD")
TODAY = business_today()


def _statement(*entries: WriterEntry) -> bytes:
    return write_camt053(list(entries), META, version="001.08")


def _entry(ref: str, **kw: object) -> WriterEntry:
    values: dict = {"amount": 10000, "booking_date": TODAY - timedelta(days=1),
                    "acct_svcr_ref": ref, "remittance": f"cont personal {ACC_ION}",
                    "debtor_name": "ION RUSU"}  # fmt: skip
    values.update(kw)
    return WriterEntry(**values)


def _reviews(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """external_id -> review reason."""
    with engine.connect() as conn:
        q = select(payments.c.external_id, review_items.c.reason).join(
            review_items, review_items.c.payment_id == payments.c.id
        )
        return {r[0]: r[1] for r in conn.execute(q)}


def _status(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.execute(select(raw_files.c.status)).scalars())


def test_dates_outside_the_window_go_to_review_and_the_file_applies(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(
        _entry("OLD", booking_date=date(1, 1, 1)),
        _entry("FAR", booking_date=date(9999, 12, 31)),
        _entry("1900", booking_date=date(1900, 1, 1)),
        _entry("GOOD"),
    )
    first = ingest_bytes(engine, settings, data, filename="dates.xml", source="bank")

    assert first.status == "applied", first.describe()
    reviews = _reviews(engine)
    assert {reviews[k] for k in ("OLD", "FAR", "1900")} == {"IMPLAUSIBLE_DATE"}
    assert "GOOD" not in reviews
    with engine.connect() as conn:
        days = dict(conn.execute(select(payments.c.external_id, payments.c.business_day)).all())
    assert days["OLD"] == TODAY  # counted on the day of the ingest, not in year 1
    assert ingest_bytes(engine, settings, data, filename="d.xml", source="bank").status == (
        "duplicate"
    )


def test_over_long_fields_are_cut_and_reviewed_and_stay_idempotent(engine, settings) -> None:
    load_tiny_city(engine)
    long_ref = "R" * 200
    data = _statement(_entry(long_ref), _entry("NAME", debtor_name="Ion " + "x" * 5000))
    result = ingest_bytes(engine, settings, data, filename="long.xml", source="bank")

    assert result.status == "applied", result.describe()
    reviews = _reviews(engine)
    assert set(reviews.values()) == {"FIELD_TOO_LONG"} and len(reviews) == 2
    # the same records in a re-sent file with other bytes are known, not doubled
    again = _statement(_entry(long_ref), _entry("NAME", debtor_name="Ion " + "x" * 5000),
                       _entry("NEW"))  # fmt: skip
    second = ingest_bytes(engine, settings, again, filename="long2.xml", source="bank")
    assert second.status == "applied" and second.counts.get("skipped_known") == 2


def test_an_implausible_advance_credit_is_not_placed(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(_entry("HUGE", amount=999_999_999_999))
    result = ingest_bytes(engine, settings, data, filename="huge.xml", source="bank")

    assert result.status == "applied", result.describe()
    assert _reviews(engine) == {"HUGE": "IMPLAUSIBLE_CREDIT"}
    with engine.connect() as conn:
        placed = conn.execute(
            select(allocations.c.id).join(payments, payments.c.id == allocations.c.payment_id)
            .where(payments.c.external_id == "HUGE")
        ).all()  # fmt: skip
    assert placed == []


def test_two_ingests_of_one_file_at_once_apply_it_once(engine, settings) -> None:
    load_tiny_city(engine)
    data = _statement(*(_entry(f"C{i}", amount=100 + i) for i in range(400)))
    results: list[str] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(ingest_bytes(engine, settings, data, filename="x.xml", source="b").status)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert sorted(results) in (["applied", "duplicate"], ["applied", "in_progress"]), results
    assert _status(engine) == ["applied"]
    with engine.connect() as conn:
        assert len(conn.execute(select(payments.c.id)).all()) == 400
