"""Status and reversal (storno): own payments only, idempotent, compensating rows, day closing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, insert, select

from schemas.tables import allocations, business_days, payments
from tests.api.conftest import A1, Api, payment


def test_status_of_a_posted_payment(bank: Api) -> None:
    posted = bank.post(payment("ST1", A1, "150.00")).json()
    r = bank.get("/pf/v1/payments/ST1")
    assert r.status_code == 200
    body = r.json()
    assert body["payment_id"] == posted["payment_id"] and body["status"] == "allocated"
    assert body["amount"] == "150.00" and body["paid_at"] == posted["paid_at"]
    assert body["allocations"] == posted["allocations"]


def test_status_of_an_unknown_txn(bank: Api) -> None:
    r = bank.get("/pf/v1/payments/NOPE")
    assert r.status_code == 404 and r.json()["code"] == "PAYMENT_NOT_FOUND"


def test_reversal_posts_compensating_rows_and_reopens_the_lines(bank: Api, city: Engine) -> None:
    bank.post(payment("RV1", A1, "380.00"))
    assert bank.get(f"/pf/v1/accounts/{A1}").json()["total_due"] == "0.00"
    r = bank.client.post("/pf/v1/payments/RV1/reversal", headers=bank.headers())
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "reversed"
    assert [a["amount"] for a in body["allocations"]] == ["-100.00", "-50.00", "-30.00", "-200.00"]
    assert {a["kind"] for a in body["allocations"]} == {"reversal"}
    with city.connect() as conn:
        kinds = conn.execute(select(allocations.c.kind, allocations.c.amount)).all()
        status = conn.execute(select(payments.c.status)).scalar_one()
    assert len(kinds) == 8 and sum(a for _, a in kinds) == 0  # nothing deleted, nets to zero
    assert status == "reversed"
    assert bank.get(f"/pf/v1/accounts/{A1}").json()["total_due"] == "380.00"
    assert bank.get("/pf/v1/payments/RV1").json()["status"] == "reversed"


def test_reversal_is_idempotent(bank: Api, city: Engine) -> None:
    bank.post(payment("RV2", A1, "100.00"))
    first = bank.client.post("/pf/v1/payments/RV2/reversal", headers=bank.headers())
    again = bank.client.post("/pf/v1/payments/RV2/reversal", headers=bank.headers())
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    with city.connect() as conn:
        n = conn.execute(select(func.count()).select_from(allocations)).scalar_one()
    assert n == 2 * len(first.json()["allocations"])


def test_the_original_answer_is_still_replayed_after_a_reversal(bank: Api) -> None:
    body = payment("RV3", A1, "100.00")
    first = bank.post(body)
    bank.client.post("/pf/v1/payments/RV3/reversal", headers=bank.headers())
    again = bank.post(body)
    assert again.status_code == 200 and again.content == first.content


def test_an_agent_sees_and_reverses_only_its_own_payments(
    bank: Api, other_bank: Api, city: Engine
) -> None:
    bank.post(payment("MINE", A1, "100.00"))
    assert other_bank.get("/pf/v1/payments/MINE").status_code == 404
    r = other_bank.client.post("/pf/v1/payments/MINE/reversal", headers=other_bank.headers())
    assert r.status_code == 404 and r.json()["code"] == "PAYMENT_NOT_FOUND"
    with city.connect() as conn:
        assert conn.execute(select(payments.c.status)).scalar_one() == "allocated"


def test_no_reversal_once_the_day_is_closed(bank: Api, city: Engine) -> None:
    bank.post(payment("RV4", A1, "100.00"))
    with city.begin() as conn:
        conn.execute(insert(business_days), {"day": date.today(), "status": "closed"})
    r = bank.client.post("/pf/v1/payments/RV4/reversal", headers=bank.headers())
    assert r.status_code == 422 and r.json()["code"] == "DAY_CLOSED"
    with city.connect() as conn:
        assert conn.execute(select(func.count()).select_from(allocations)).scalar_one() == 4
        assert conn.execute(select(payments.c.status)).scalar_one() == "allocated"
