"""Finance end to end on a generated day (both databases): the report balances to the ban,
the day closes and stays frozen, late payments and reversals follow the rules, the provider
orders validate against the pain.001 XSD and are never paid twice, and a day with a
statement break, a missing lump sum and an unresolved item is refused, naming each."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from lxml import etree
from sqlalchemy import func, insert, select, update

from fixtures.writers import StatementMeta, TerminalTxn, WriterEntry, write_camt053
from fixtures.writers.terminal import write_terminal_page
from gateway.collectors import DEFAULT_COLLECTORS
from gateway.errors import Conflict
from gateway.services.accounts import Refused
from gateway.services.agents import add_agent, load_agent
from gateway.services.day_close import close_day, day_status, report_bytes
from gateway.services.export import export
from gateway.services.orders import create_orders, list_orders, order_file
from gateway.services.payments import PaymentInput, post_payment, reverse_payment
from gateway.services.people import Actor, Role
from gateway.services.report import daily_report
from reconciliation.daily import remittances
from reconciliation.day_figures import ProviderRow
from schemas.tables import allocations, payment_orders, payments
from tests.integration.finance_kit import CENTRE_IBAN, DAY, XSD, ingest, load_day, make_city

FINANCE = Actor(username="fina", role=Role.FINANCE)
TZ = ZoneInfo("Europe/Chisinau")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("finance-city"))


def _exports(engine, tmp_path: Path, tag: str) -> dict[str, bytes]:
    out = {}
    for kind in ("payments", "allocations"):
        export(engine, kind, DAY, tmp_path / f"{kind}-{tag}.csv")
        out[kind] = (tmp_path / f"{kind}-{tag}.csv").read_bytes()
    for fmt in ("json", "csv", "xlsx"):
        out[fmt] = report_bytes(engine, DAY, fmt, DEFAULT_COLLECTORS)
    return out


def test_the_generated_day_balances_closes_and_stays_frozen(engine, settings, city, tmp_path):
    load_day(engine, settings, city)
    report = daily_report(engine, DAY, DEFAULT_COLLECTORS)
    assert report.balanced and report.blocking == []
    rows = report.section("equation").rows
    assert {r[0] for r in rows} == {CENTRE_IBAN, "MD51ML000000225100013104"}
    for row in rows:
        credits, terms, difference = row[1], row[2:7], row[7]
        assert difference == 0 and credits == sum(terms) > 0
    assert all(
        r[-1] == "ok" or r[-1].startswith("no balances") for r in report.section("statements").rows
    )
    before = _exports(engine, tmp_path, "before")

    result = close_day(engine, DAY, FINANCE, collectors=DEFAULT_COLLECTORS)
    assert not result.already
    at_close = _exports(engine, tmp_path, "closed")
    assert at_close == before
    assert json.loads(at_close["json"])["closable"] is True
    book = openpyxl.load_workbook(io.BytesIO(at_close["xlsx"]))
    assert book.sheetnames == [s.name for s in report.sections]
    eq = book["equation"]
    assert eq.freeze_panes == "A2" and eq["B2"].number_format == "#,##0.00"

    # later: a late API payment, a late statement, a review item resolved
    agent = load_agent(engine, add_agent(engine, "late-bank").key_id)
    account = _an_allocated_account(engine)
    late = PaymentInput("LATE-1", account, "10.00", "MDL", f"{DAY}T12:00:00+02:00")
    booked = post_payment(engine, agent, late, tz=TZ)
    assert booked.status == 201 and booked.body["business_day"] == str(DAY + timedelta(days=1))
    entry = WriterEntry(
        amount=2500,
        booking_date=DAY,
        acct_svcr_ref="LATE-ST-1",
        remittance=f"cont {account}",
        debtor_name="Late Payer",
    )
    ingest(
        engine,
        settings,
        write_camt053([entry], StatementMeta(CENTRE_IBAN, "LATE-1")),
        "late.xml",
        "statement",
    )
    with engine.begin() as conn:
        conn.execute(
            update(payments).where(payments.c.status == "review").values(status="rejected")
        )
        late_days = (
            conn.execute(
                select(payments.c.business_day).where(
                    payments.c.external_id.in_(["LATE-1", "LATE-ST-1"])
                )
            )
            .scalars()
            .all()
        )
    assert late_days == [DAY + timedelta(days=1)] * 2
    assert _exports(engine, tmp_path, "after") == at_close

    # a reversal into the closed day is refused
    with pytest.raises(Refused) as refused:
        reverse_payment(engine, agent, "LATE-1")  # booked on the open day: allowed
        early = PaymentInput("EARLY-1", account, "5.00", "MDL", f"{DAY}T09:00:00+02:00")
        _force_day(engine, post_payment(engine, agent, early, tz=TZ).payment_id)
        reverse_payment(engine, agent, "EARLY-1")
    assert refused.value.code == "DAY_CLOSED"
    assert close_day(engine, DAY, FINANCE).already


def _an_allocated_account(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(payments.c.account_no)
            .where(payments.c.status == "allocated", payments.c.account_no.is_not(None))
            .order_by(payments.c.id)
            .limit(1)
        ).scalar_one()


def _force_day(engine, payment_id: int) -> None:
    """A payment of the closed day (as if posted before the close)."""
    with engine.begin() as conn:
        conn.execute(update(payments).where(payments.c.id == payment_id).values(business_day=DAY))


def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def test_provider_orders_validate_match_the_remittance_and_are_never_paid_twice(
    engine, settings, city
):
    load_day(engine, settings, city)
    with pytest.raises(Conflict, match="open"):
        create_orders(engine, DAY, FINANCE, settings)
    close_day(engine, DAY, FINANCE, collectors=DEFAULT_COLLECTORS)
    first = create_orders(engine, DAY, FINANCE, settings)
    (order,) = first.orders
    assert order.new and order.number == 1
    _, xml = order_file(engine, order.id)
    doc = etree.fromstring(xml)
    assert _schema().validate(doc.getroottree()), _schema().error_log
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    paid = {
        tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns): tx.findtext(
            "p:Amt/p:InstdAmt", namespaces=ns
        )
        for tx in doc.iterfind(".//p:CdtTrfTxInf", ns)
    }
    snapshot = json.loads(report_bytes(engine, DAY, "json"))
    providers = next(s for s in snapshot["sections"] if s["name"] == "providers")
    owed = remittances(ProviderRow(r[0], r[1], 0, 0, 0, 0, _bani(r[6])) for r in providers["rows"])
    owed.pop("(advance credit)", None)
    assert sum(_bani(a) for a in paid.values()) == sum(owed.values()) == order.total
    assert len(paid) == len([v for v in owed.values() if v > 0])

    again = create_orders(engine, DAY, FINANCE, settings)
    assert [(o.id, o.new, o.sha256) for o in again.orders] == [(order.id, False, order.sha256)]

    # a correction booked into the day after the close: a new file with only the difference
    with engine.begin() as conn:
        row = conn.execute(
            select(allocations)
            .where(allocations.c.business_day == DAY, allocations.c.invoice_line_id.is_not(None))
            .limit(1)
        ).one()
        conn.execute(
            insert(allocations).values(
                payment_id=row.payment_id,
                account_id=row.account_id,
                invoice_line_id=row.invoice_line_id,
                service_id=row.service_id,
                provider_id=row.provider_id,
                amount=1234,
                kind="correction",
                business_day=DAY,
                created_by="test",
                created_at=datetime.now(UTC),
            )
        )
    corrected = create_orders(engine, DAY, FINANCE, settings)
    (second,) = corrected.orders
    assert (second.number, second.count, second.total, second.new) == (2, 1, 1234, True)
    _, xml2 = order_file(engine, second.id)
    assert _schema().validate(etree.fromstring(xml2).getroottree())

    # the bank's statement debits the transfer: the order is confirmed
    e2e = etree.fromstring(xml2).findtext(".//p:EndToEndId", namespaces=ns)
    debit = WriterEntry(
        amount=1234,
        booking_date=DAY + timedelta(days=2),
        direction="debit",
        acct_svcr_ref="OUT-1",
        end_to_end_id=e2e,
        remittance="transfer out",
    )
    ingest(
        engine,
        settings,
        write_camt053([debit], StatementMeta(CENTRE_IBAN, "OUT-1")),
        "out.xml",
        "statement",
    )
    with engine.connect() as conn:  # confirmed by the ingest itself, before any listing
        assert (
            conn.execute(
                select(payment_orders.c.state).where(payment_orders.c.id == second.id)
            ).scalar_one()
            == "confirmed"
        )
    states = {o.id: o.state for o in list_orders(engine)}
    assert states == {order.id: "created", second.id: "confirmed"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payment_orders)).scalar_one() == 2


def _bani(text: str) -> int:
    lei, _, ban = text.partition(".")
    sign = -1 if lei.startswith("-") else 1
    return sign * (abs(int(lei)) * 100 + int(ban or 0))


def test_a_day_with_a_break_a_missing_lump_sum_and_an_unresolved_item_is_refused(
    engine, settings, city
):
    load_day(engine, settings, city)
    # the account's statement of the day before closed 1,000.00 lower than today's opening
    report = daily_report(engine, DAY, DEFAULT_COLLECTORS)
    stmt = next(r for r in report.section("statements").rows if r[1].startswith("STMT-"))
    opening, closing = stmt[6], stmt[9]
    yesterday = WriterEntry(
        amount=100_000,
        booking_date=DAY - timedelta(days=1),
        acct_svcr_ref="Y-1",
        remittance="dobanda",
        debtor_name="Bank",
    )
    meta = StatementMeta(CENTRE_IBAN, "STMT-YESTERDAY", opening_balance=opening - 200_000)
    ingest(engine, settings, write_camt053([yesterday], meta), "yesterday.xml", "statement")
    # a terminal network's registry whose lump sum never came
    paid = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
    account = _an_allocated_account(engine)
    page = write_terminal_page([TerminalTxn("RP-1", account, 4200, paid)], operator="RUNPAY")
    ingest(engine, settings, page, "runpay.json", "terminal-runpay")
    # a storno of a payment the gateway never saw: unresolved
    storno = WriterEntry(
        amount=777,
        booking_date=DAY,
        direction="debit",
        reversal=True,
        acct_svcr_ref="GHOST-R",
        end_to_end_id="GHOST",
        remittance="Storno",
    )
    later = StatementMeta(CENTRE_IBAN, "STMT-20261120-2", opening_balance=closing)
    ingest(engine, settings, write_camt053([storno], later), "storno.xml", "statement")

    report = daily_report(engine, DAY, DEFAULT_COLLECTORS)
    kinds = {f.kind.value: f for f in report.blocking}
    assert {"statement_break", "lump_sum_missing", "reversal_unmatched"} <= kinds.keys()
    assert kinds["statement_break"].difference == 100_000
    assert kinds["lump_sum_missing"].subject.startswith("RUNPAY")
    with pytest.raises(Conflict) as refused:
        close_day(engine, DAY, FINANCE, collectors=DEFAULT_COLLECTORS)
    for f in report.blocking:
        assert f.key in str(refused.value)
    (status,) = [s for s in day_status(engine, DEFAULT_COLLECTORS) if s.day == DAY]
    assert {k for k, _ in status.blocking} == {f.key for f in report.blocking}

    acks = {f.key: f"checked with the bank ({f.kind.value})" for f in report.blocking}
    first_key = next(iter(acks))
    with pytest.raises(Conflict):  # one acknowledgement is not enough, but it is kept
        close_day(
            engine, DAY, FINANCE, acks={first_key: acks[first_key]}, collectors=DEFAULT_COLLECTORS
        )
    assert first_key not in {f.key for f in daily_report(engine, DAY, DEFAULT_COLLECTORS).blocking}
    done = close_day(engine, DAY, FINANCE, acks=acks, collectors=DEFAULT_COLLECTORS)
    snapshot = json.loads(report_bytes(engine, DAY, "json"))
    assert snapshot["closable"] and {f["key"] for f in snapshot["findings"]} >= acks.keys()
    assert all(f["acknowledged"] for f in snapshot["findings"])
    assert len(done.sha256) == 64


def test_viewers_and_accountants_cannot_close(engine, settings, city):
    from gateway.errors import Forbidden

    for role in (Role.VIEWER, Role.ACCOUNTANT):
        with pytest.raises(Forbidden):
            close_day(engine, DAY, Actor(username="x", role=role))


AGENT_TOML = """
[[collector]]
code = "POSTA"
ibans = ["MD46AG000000022512345601"]
fee_max_permille = 15

[[collector]]
code = "api-bank"
name = "Banca API"
ibans = ["MD21EX000000022500000001"]
fee_max_permille = 5
lag_days = 1
"""


def test_an_api_agents_day_settles_against_its_one_transfer(engine, settings, tmp_path):
    from gateway.collectors import load_collectors
    from tests.api.conftest import A1, A2, insert_city

    config = tmp_path / "connectors.toml"
    config.write_text(AGENT_TOML)
    settings = settings.with_(config_path=config)
    collectors = load_collectors(settings)
    insert_city(engine)
    agent = load_agent(engine, add_agent(engine, "api-bank").key_id)
    for txn, account, amount in (("A-1", A1, "100.00"), ("A-2", A2, "50.00"), ("A-3", A1, "9.99")):
        inp = PaymentInput(txn, account, amount, "MDL", f"{DAY}T11:00:00+02:00")
        assert post_payment(engine, agent, inp, tz=TZ).status == 201
    reverse_payment(engine, agent, "A-3")  # stornoed the same day: not in the bank's transfer
    lump = WriterEntry(
        amount=15000 - 75,  # 0.5% fee netted
        booking_date=DAY + timedelta(days=1),
        acct_svcr_ref="API-LUMP-1",
        debtor_name="Banca API",
        debtor_iban="MD21EX000000022500000001",
        remittance=f"Plati servicii comunale din {DAY:%d.%m.%Y}",
    )
    meta = StatementMeta(CENTRE_IBAN, "S-API", opening_balance=0)
    ingest(engine, settings, write_camt053([lump], meta), "api-lump.xml", "statement")
    report = daily_report(engine, DAY, collectors)
    (row,) = [r for r in report.section("settlements").rows if r[0] == "api-bank"]
    assert (row[3], row[4], row[5], row[6], row[8]) == (2, 15000, 14925, 75, "fee")
    assert not [f for f in report.findings if "api-bank" in f.subject]


def test_refunds_of_a_closed_day_are_a_second_batch_paid_once(engine, settings, city):
    from fixtures.city_data import iban
    from schemas.tables import refunds

    load_day(engine, settings, city)
    close_day(engine, DAY, FINANCE, collectors=DEFAULT_COLLECTORS)
    with engine.begin() as conn:
        pid = conn.execute(
            select(payments.c.id).where(payments.c.status == "review").limit(1)
        ).scalar_one()
        conn.execute(
            insert(refunds).values(
                payment_id=pid, amount=4550, iban=iban("MD", "AG000000000000009999"),
                name="Ion Rusu", reason="plata gresita", business_day=DAY,
                created_by="ana", approved_by="dan", created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    result = create_orders(engine, DAY, FINANCE, settings)
    refund = next(o for o in result.orders if o.kind == "refund")
    assert (refund.count, refund.total, refund.number) == (1, 4550, 1)
    _, xml = order_file(engine, refund.id)
    assert _schema().validate(etree.fromstring(xml).getroottree()), _schema().error_log
    again = create_orders(engine, DAY, FINANCE, settings)
    assert {(o.kind, o.id, o.new) for o in again.orders} == {
        ("remittance", result.orders[0].id, False),
        ("refund", refund.id, False),
    }
    with engine.connect() as conn:
        assert conn.execute(select(refunds.c.order_id)).scalar_one() == refund.id


def test_the_scheduled_close_closes_only_the_ready_days_before_today(engine, settings, city):
    from connectors.schedule import build_scheduler, run_day_close
    from gateway.services.day_close import close_ready_days

    load_day(engine, settings, city)
    # the next day has a registry whose lump sum never came: it waits for a person
    page = write_terminal_page(
        [TerminalTxn("RP-9", _an_allocated_account(engine), 4200,
                     datetime(2026, 11, 21, 10, 0, tzinfo=TZ))], operator="RUNPAY"
    )  # fmt: skip
    ingest(engine, settings, page, "runpay.json", "terminal-runpay")
    assert close_ready_days(engine, DEFAULT_COLLECTORS, today=DAY) == []  # not before today
    closed = close_ready_days(engine, DEFAULT_COLLECTORS, today=DAY + timedelta(days=5))
    assert closed == [DAY]
    open_days = {s.day for s in day_status(engine, DEFAULT_COLLECTORS)}
    assert open_days == {DAY + timedelta(days=1)}
    timed = settings.with_(day_close_at="07:30")
    job = build_scheduler(engine, timed).get_job("day-close")
    assert "hour='7'" in str(job.trigger) and "minute='30'" in str(job.trigger)
    assert run_day_close(engine, timed) == "ran"


def test_today_cannot_be_closed(engine):
    from reconciliation.service import business_today

    with pytest.raises(Conflict, match="not over yet"):
        close_day(engine, business_today(), FINANCE)
