"""API input that once got a 500 or was wrongly accepted (issue 14, defect 5), on both DBs."""

from __future__ import annotations

from sqlalchemy import func, select

from schemas.tables import payments
from tests.api.conftest import A1, payment


def _payments(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(payments)).scalar_one()


def test_json_nested_100000_deep_is_a_400(bank) -> None:
    body = b'{"agent_txn_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = bank.client.post(
        "/pf/v1/payments",
        content=body,
        headers={**bank.headers(), "content-type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "VALIDATION_ERROR"


def test_non_ascii_digits_are_not_amounts(bank, city) -> None:
    for amount in ("１０.００", "١٠.٠٠", "10.٠٠"):
        r = bank.post(payment("NA1", amount=amount))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_AMOUNT", amount
    r = bank.client.get(
        "/osmp/v1",
        params={"command": "pay", "txn_id": "T2", "account": A1, "sum": "١٠.٠٠",
                "txn_date": "20261120101500"},
        headers=bank.headers(),
    )  # fmt: skip
    assert "<result>0</result>" not in r.text
    assert _payments(city) == 0


def test_non_ascii_digits_are_not_accounts(bank) -> None:
    r = bank.post(payment("NA2", account="١٠٠٠٠٠١" + A1[-1], amount="10.00"))
    assert r.status_code in (400, 404) and r.json()["code"] in ("INVALID_ACCOUNT",), r.text
