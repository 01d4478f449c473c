"""Learning from decisions, end to end: two consistent decisions place the payer's next
payment at ingest; a contradiction retires the rule; an undo takes its evidence back."""

from __future__ import annotations

from datetime import date
from itertools import count

from sqlalchemy import select

from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.services import review
from gateway.services.ingest import ingest_bytes
from gateway.services.review.learn import list_rules, set_rule_enabled
from schemas import tables as t
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city
from tests.integration.reviewkit import ANA, ION, SUP

DAY = date(2026, 11, 20)
TEXT = "Ion Rusu, str. Ismail 86, ap. 12, servicii comunale {month}"
_n = count(1)


def _ingest(engine, settings, *amounts: int, month: str = "noiembrie") -> list[tuple]:
    """A statement of transfers from Ion Rusu that name no account; returns (status, reason,
    item id) per payment, in order."""
    n = next(_n)
    entries = [
        WriterEntry(
            amount=a, booking_date=DAY, remittance=TEXT.format(month=month),
            debtor_name="Ion Rusu", acct_svcr_ref=f"L{n}-{i}", end_to_end_id=f"E{n}-{i}",
        )
        for i, a in enumerate(amounts)
    ]  # fmt: skip
    meta = StatementMeta(iban="MD24AG000225100013104168", statement_id=f"S{n}")
    data = write_camt053(entries, meta, version="001.08")
    ingest_bytes(engine, settings, data, filename=f"s{n}.xml", source="bank")
    p, ri = t.payments, t.review_items
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(p.c.status, p.c.reason, ri.c.id)
                .outerjoin(ri, ri.c.payment_id == p.c.id)
                .where(p.c.account_servicer_ref.like(f"L{n}-%"))
                .order_by(p.c.account_servicer_ref)
            )
        ]


def test_two_decisions_teach_the_next_payment(engine, settings) -> None:
    load_tiny_city(engine)
    first = _ingest(engine, settings, 1000, 2000)
    assert [s for s, _, _ in first] == ["review", "review"]
    review.assign(engine, ANA, first[0][2], ACC_ION)
    assert list_rules(engine)[0].decisions == 1
    nothing_yet = _ingest(engine, settings, 3000)
    assert nothing_yet[0][0] == "review"  # one decision is not enough
    review.assign(engine, ION, first[1][2], ACC_ION)
    rule = list_rules(engine)[0]
    assert (rule.account_no, rule.decisions, rule.status) == (ACC_ION, 2, "active")
    placed = _ingest(engine, settings, 4000, month="decembrie")  # another month, same habit
    assert placed[0][:2] == ("allocated", "LEARNED")
    assert list_rules(engine)[0].placed == 1
    with engine.connect() as conn:
        assert conn.execute(select(t.learned_placements.c.rule_id)).scalar_one() == rule.id
    set_rule_enabled(engine, SUP, rule.id, enabled=False, reason="checking")
    assert _ingest(engine, settings, 5000)[0][0] == "review"
    set_rule_enabled(engine, SUP, rule.id, enabled=True)
    assert _ingest(engine, settings, 6000)[0][:2] == ("allocated", "LEARNED")
    with engine.connect() as conn:  # the matcher was wrong after all: taken back
        wrong = (
            conn.execute(
                select(t.payments.c.id)
                .where(t.payments.c.reason == "LEARNED")
                .order_by(t.payments.c.id.desc())
            )
            .scalars()
            .first()
        )
    req = review.unmatch(engine, ANA, wrong, reason="not his flat any more")
    review.approve(engine, SUP, req.approval_id)
    back = list_rules(engine)[0]
    assert back.status == "retired" and "taken back" in back.status_reason
    assert _ingest(engine, settings, 7000)[0][0] == "review"


def test_a_contradiction_retires_the_rule_and_an_undo_forgets(engine, settings) -> None:
    load_tiny_city(engine)
    items = [i for _, _, i in _ingest(engine, settings, 1000, 2000, 3000)]
    review.assign(engine, ANA, items[0], ACC_ION)
    review.assign(engine, ANA, items[1], ACC_ION)
    review.assign(engine, ANA, items[2], ACC_MARIA)  # the same payer, another flat
    rules = {r.account_no: r for r in list_rules(engine)}
    assert {r.status for r in rules.values()} == {"retired"}
    assert "contradicted" in rules[ACC_ION].status_reason
    assert _ingest(engine, settings, 4000)[0][0] == "review"
    req = review.undo(engine, ANA, items[2], reason="wrong flat")
    review.approve(engine, SUP, req.approval_id)
    rules = {r.account_no: r for r in list_rules(engine)}
    assert rules[ACC_MARIA].decisions == 0 and rules[ACC_ION].decisions == 2
    assert rules[ACC_ION].status == "retired"  # retired stays retired: a person re-enables


def test_replay_of_habit_months_places_would_be_review_items_without_a_mistake(
    sqlite_engine, tmp_path
) -> None:
    from gateway.services.learning_replay import replay
    from gateway.settings import Settings

    settings = Settings(database_url=str(sqlite_engine.url), data_dir=tmp_path / "data")
    figures, report = replay(sqlite_engine, settings, tmp_path / "city", months=3)
    last = figures[-1]
    assert figures[0].learned == figures[1].learned == 0  # one decision per payer is not enough
    assert last.learned > 0 and report.learned == last.learned
    assert report.learned_wrong == [] and report.misallocated == [] and report.lost == []
