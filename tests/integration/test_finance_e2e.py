"""Issue 11's "done when", end to end through the `gateway` command on the seed-scale day.

On the generated seed day: the report balances to the ban, `gateway day close` succeeds,
the provider orders validate against the pain.001 XSD and their total per provider equals
the day's remittance, a re-export of the closed day is byte-identical, a late API payment is
booked on the first open day and a late reversal is refused. On the next day, with an
injected statement break, a registry whose lump sum never came and an unresolved storno,
the close is refused and the report names each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from fixtures.writers import PostLine, StatementMeta, WriterEntry, write_camt053
from fixtures.writers.post_registry import write_post_registry
from gateway.db import make_engine
from gateway.services.accounts import Refused
from gateway.services.agents import add_agent, load_agent
from gateway.services.payments import PaymentInput, post_payment, reverse_payment
from tests.integration.finance_kit import CENTRE_IBAN, DAY, XSD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
NEXT = DAY + timedelta(days=1)
TZ = ZoneInfo("Europe/Chisinau")
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("seed-e2e")
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{root / 'gw.db'}",
        "GATEWAY_DATA_DIR": str(root / "data"),
    }
    env.pop("GATEWAY_CONFIG", None)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if ok:
            assert out.returncode == 0, out.stderr
        return out

    run("db", "upgrade")
    run("fixtures", "generate", "--out", str(root / "city"), "--scale", "seed", "--day", str(DAY))
    run("invoices", "import", str(root / "city" / "register"))
    for path in sorted((root / "city" / "inbox").rglob("*")):
        if path.is_file():
            run("ingest", str(path), "--source", path.parent.name)
    return root, run, env["GATEWAY_DATABASE_URL"]


def _report(run, root: Path, day) -> dict:  # type: ignore[no-untyped-def]
    out = root / f"report-{day}.json"
    run("report", "daily", "--day", str(day), "--format", "json", "--out", str(out))
    return json.loads(out.read_text())


def _section(report: dict, name: str) -> dict:
    return next(s for s in report["sections"] if s["name"] == name)


def _exports(run, root: Path, tag: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    got = {}
    for kind in ("payments", "allocations"):
        path = root / f"{kind}-{tag}.csv"
        run("export", kind, "--day", str(DAY), "--out", str(path))
        got[kind] = path.read_bytes()
    for fmt in ("xlsx", "csv", "json"):
        path = root / f"report-{tag}.{fmt}"
        run("report", "daily", "--day", str(DAY), "--format", fmt, "--out", str(path))
        got[fmt] = path.read_bytes()
    return got


def test_the_seed_day_closes_pays_its_providers_and_stays_frozen(seed) -> None:  # type: ignore[no-untyped-def]
    root, run, url = seed
    engine = make_engine(url)
    agent = load_agent(engine, add_agent(engine, "e2e-bank").key_id)
    on_time = PaymentInput("E2E-1", _an_account(root), "25.00", "MDL", f"{DAY}T10:00:00+02:00")
    assert post_payment(engine, agent, on_time, tz=TZ).status == 201

    report = _report(run, root, DAY)
    equation = _section(report, "equation")
    assert len(equation["rows"]) == 2
    for row in equation["rows"]:
        assert Decimal(row[1]) == sum(Decimal(v) for v in row[2:7]) and row[7] == "0.00"
    assert report["balanced"] and report["closable"], report["findings"]
    before = _exports(run, root, "before")

    closed = run("day", "close", str(DAY))
    assert "closed" in closed.stdout

    run("orders", "create", "--day", str(DAY))
    listed = run("orders", "list").stdout.split("\t")
    order_id = listed[0].strip()
    run("orders", "show", order_id, "--out", str(root / "order.xml"))
    doc = etree.parse(str(root / "order.xml"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(doc), schema.error_log
    paid = {}
    for tx in doc.iterfind(".//p:CdtTrfTxInf", NS):
        info = tx.findtext("p:RmtInf/p:Ustrd", namespaces=NS)
        assert f"{DAY:%d.%m.%Y}" in info
        paid[tx.findtext("p:Cdtr/p:Nm", namespaces=NS)] = Decimal(
            tx.findtext("p:Amt/p:InstdAmt", namespaces=NS)
        )
    owed: dict[str, Decimal] = {}
    for row in _section(report, "providers")["rows"]:
        if row[0] != "(advance credit)":
            owed[row[0]] = owed.get(row[0], Decimal(0)) + Decimal(row[6])
    assert len(paid) == len([v for v in owed.values() if v > 0])
    assert sum(paid.values()) == sum(owed.values())
    again = run("orders", "create", "--day", str(DAY))
    assert "exists (nothing new owed)" in again.stdout

    late = PaymentInput("E2E-LATE", _an_account(root), "10.00", "MDL", f"{DAY}T18:00:00+02:00")
    booked = post_payment(engine, agent, late, tz=TZ)
    assert booked.body["business_day"] == str(NEXT)
    with pytest.raises(Refused) as refused:
        reverse_payment(engine, agent, "E2E-1")
    assert refused.value.code == "DAY_CLOSED"
    engine.dispose()
    assert _exports(run, root, "after") == before


def _an_account(root: Path) -> str:
    truth = (root / "city" / "truth.csv").read_text().splitlines()[1:]
    return next(r.split(",")[4] for r in truth if ",allocated," in r and r.split(",")[4])


def test_a_day_with_a_break_a_missing_lump_sum_and_an_unresolved_item_is_refused(seed) -> None:  # type: ignore[no-untyped-def]
    root, run, _ = seed
    day_report = _report(run, root, DAY)
    stmt = next(
        r for r in _section(day_report, "statements")["rows"] if r[0] == CENTRE_IBAN and r[6]
    )
    closing = int(Decimal(stmt[9]) * 100)
    account = _an_account(root)
    entries = [
        WriterEntry(amount=15000, booking_date=NEXT, acct_svcr_ref="N-1",
                    remittance=f"cont personal {account}", debtor_name="Ion"),
        WriterEntry(amount=777, booking_date=NEXT, direction="debit", reversal=True,
                    acct_svcr_ref="GHOST-R", end_to_end_id="GHOST", remittance="Storno"),
    ]  # fmt: skip
    meta = StatementMeta(CENTRE_IBAN, "STMT-NEXT", opening_balance=closing + 50_000)
    (root / "next.xml").write_bytes(write_camt053(entries, meta))
    registry = write_post_registry(
        [PostLine(account, 4200, NEXT, "MD-2012", "000001")], registry_date=NEXT
    )
    (root / "post-next.txt").write_bytes(registry)
    run("ingest", str(root / "next.xml"), "--source", "statement")
    run("ingest", str(root / "post-next.txt"), "--source", "post")

    refused = run("day", "close", str(NEXT), ok=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    report = _report(run, root, NEXT)
    kinds = {f["kind"]: f for f in report["findings"]}
    assert {"statement_break", "lump_sum_missing", "reversal_unmatched"} <= kinds.keys()
    assert kinds["statement_break"]["difference"] == "500.00"
    assert kinds["lump_sum_missing"]["subject"].startswith("POSTA")
    for f in report["findings"]:
        assert f["key"] in refused.stderr
    status = run("day", "status").stdout
    assert str(NEXT) in status and "blocking" in status
