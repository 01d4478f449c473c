"""API input that once got a 500 or was wrongly accepted (issue 14, defect 5), on both DBs."""

from __future__ import annotations

from sqlalchemy import func, select

from schemas.tables import api_requests, payments
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


def test_paid_at_in_year_0001_is_refused_not_500(bank) -> None:
    for paid_at in (
        "0001-01-01T00:00:00+02:00",
        "0001-01-01T00:00:00+00:00",
        "1900-01-01T10:00:00+02:00",
    ):
        r = bank.post(payment("Y1", paid_at=paid_at))
        assert r.status_code == 400, (paid_at, r.text)
        assert r.json()["code"] == "INVALID_PAID_AT"


def test_osmp_txn_date_year_0001_answers_osmp_xml(bank) -> None:
    r = bank.client.get(
        "/osmp/v1",
        params={"command": "pay", "txn_id": "T1", "account": A1, "sum": "10.00",
                "txn_date": "00010101000000"},
        headers=bank.headers(),
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert "<result>300</result>" in r.text


def test_txn_id_with_trailing_newline_is_refused(bank, city) -> None:
    assert bank.post(payment("TX1", amount="10.00")).status_code == 201
    r = bank.post(payment("TX1\n", amount="10.00"))
    assert r.status_code == 400 and r.json()["code"] == "INVALID_TXN_ID"
    assert _payments(city) == 1


def test_stored_request_body_is_capped_and_hashed(bank, city) -> None:
    big = payment("BIG1", amount="10.00", pad="x" * 2_000_000)
    assert bank.post(big).status_code == 201
    with city.connect() as conn:
        row = conn.execute(select(api_requests.c.body, api_requests.c.body_sha256)).one()
    assert len(row.body) <= 8192 and len(row.body_sha256) == 64
