"""The OSMP/QIWI provider-protocol facade: check, pay, duplicates, result codes, XML."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from schemas.tables import api_requests, payments
from tests.api.conftest import A1, A3, UNKNOWN_ACCOUNT, Api


def _osmp(api: Api, auth: bool = True, **params: str) -> tuple[int, dict[str, str]]:
    r = api.client.get("/osmp/v1", params=params, headers=api.headers() if auth else {})
    assert r.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(r.content)
    assert root.tag == "response"
    return r.status_code, {child.tag: child.text or "" for child in root}


def _txn_date() -> str:
    """A minute ago in Chișinău local time, as terminals send it."""
    now = datetime.now(ZoneInfo("Europe/Chisinau")) - timedelta(minutes=1)
    return now.strftime("%Y%m%d%H%M%S")


def test_check_existing_account(bank: Api) -> None:
    status, reply = _osmp(bank, command="check", txn_id="1001", account=A1, sum="10.00")
    assert status == 200 and reply["result"] == "0" and reply["osmp_txn_id"] == "1001"


@pytest.mark.parametrize(
    ("account", "amount", "result"),
    [
        ("12345", "10.00", "4"),
        (UNKNOWN_ACCOUNT, "10.00", "5"),
        (A3, "10.00", "79"),
        (A1, "0.00", "241"),
        (A1, "-1.00", "241"),
        (A1, "5000000.00", "242"),
        (A1, "ten", "300"),
    ],
)
def test_check_result_codes(bank: Api, account: str, amount: str, result: str) -> None:
    status, reply = _osmp(bank, command="check", txn_id="1002", account=account, sum=amount)
    assert status == 200 and reply["result"] == result


def test_pay_and_duplicate(bank: Api, city: Engine) -> None:
    params = {"command": "pay", "txn_id": "2001", "account": A1, "sum": "25.50",
              "txn_date": _txn_date()}  # fmt: skip
    status, first = _osmp(bank, **params)
    assert status == 200 and first["result"] == "0" and first["sum"] == "25.50"
    _, again = _osmp(bank, **params)
    assert again["result"] == "0" and again["prv_txn"] == first["prv_txn"]
    _, conflict = _osmp(bank, **{**params, "sum": "26.00"})
    assert conflict["result"] == "300"
    with city.connect() as conn:
        rows = conn.execute(select(payments.c.id, payments.c.channel, payments.c.amount)).all()
        kept = conn.execute(select(api_requests.c.method, api_requests.c.body)).all()
    assert rows == [(int(first["prv_txn"]), "terminal", 2550)]
    assert len(kept) == 3 and all(m == "GET" and b"txn_id=2001" in b for m, b in kept)


def test_pay_refusals(bank: Api, city: Engine) -> None:
    base = {"command": "pay", "account": A1, "txn_date": _txn_date()}
    assert _osmp(bank, **base, txn_id="3001", sum="0")[1]["result"] == "241"
    assert _osmp(bank, **{**base, "account": A3}, txn_id="3002", sum="1.00")[1]["result"] == "79"
    assert _osmp(bank, **base, txn_id="3003")[1]["result"] == "241"  # no sum
    bad_date = {**base, "txn_date": "yesterday"}
    assert _osmp(bank, **bad_date, txn_id="3004", sum="1.00")[1]["result"] == "300"
    with city.connect() as conn:
        assert conn.execute(select(payments.c.id)).all() == []


def test_unknown_command_and_missing_fields(bank: Api) -> None:
    assert _osmp(bank, command="cancel", txn_id="1", account=A1)[1]["result"] == "300"
    assert _osmp(bank, command="check")[1]["result"] == "300"


def test_osmp_needs_a_key(bank: Api) -> None:
    status, reply = _osmp(bank, auth=False, command="check", txn_id="1", account=A1)
    assert status == 401 and reply["result"] == "300"
