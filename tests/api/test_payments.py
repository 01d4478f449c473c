"""POST /pf/v1/payments: allocation, idempotency, every refusal code, nothing stored on refusal."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from schemas.tables import allocations, api_requests, business_days, payments
from tests.api.conftest import A1, A2, A3, UNKNOWN_ACCOUNT, Api, now_iso, payment


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _rows(body: dict) -> list[tuple]:
    return [
        (a["kind"], a["invoice_no"], a["service_code"], a["provider_code"], a["amount"])
        for a in body["allocations"]
    ]


def test_full_payment_lands_service_by_service(bank: Api, city: Engine) -> None:
    r = bank.post(payment("F1", A1, "380.00"))
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "allocated" and body["amount"] == "380.00"
    assert isinstance(body["payment_id"], int)
    assert _rows(body) == [
        ("payment", "AV1", "APARECE", "APACANAL", "100.00"),
        ("payment", "AV1", "CANAL", "APACANAL", "50.00"),
        ("payment", "AV1", "DESERV", "GESTACC", "30.00"),
        ("payment", "TE1", "INCALZ", "TERMO", "200.00"),
    ]
    with city.connect() as conn:
        p = conn.execute(select(payments)).one()
        total = conn.execute(select(func.sum(allocations.c.amount))).scalar_one()
    assert (p.source, p.external_id, p.channel, p.amount) == ("agent:maib", "F1", "bank_api", 38000)
    assert p.status == "allocated" and p.account_no == A1 and total == 38000


def test_named_services_land_only_on_them(bank: Api) -> None:
    services = [{"service_code": "INCALZ", "amount": "50.00"}]
    r = bank.post(payment("S1", A1, "50.00", services=services))
    assert r.status_code == 201
    assert _rows(r.json()) == [("payment", "TE1", "INCALZ", "TERMO", "50.00")]


def test_old_debt_is_paid_first(bank: Api) -> None:
    r = bank.post(payment("O1", A2, "50.00"))
    rows = _rows(r.json())
    assert rows[0] == ("payment", "AV0", "APARECE", "APACANAL", "40.00")
    assert sum(float(x[-1]) for x in rows[1:]) == 10.0


def test_excess_becomes_advance_credit(bank: Api) -> None:
    r = bank.post(payment("X1", A1, "400.00"))
    rows = _rows(r.json())
    assert rows[-1] == ("advance", None, None, None, "20.00")
    assert len(rows) == 5


def test_invoice_no_restricts_the_payment(bank: Api) -> None:
    r = bank.post(payment("I1", A1, "200.00", invoice_no="TE1"))
    assert _rows(r.json()) == [("payment", "TE1", "INCALZ", "TERMO", "200.00")]


def test_business_day_is_paid_at_in_chisinau(bank: Api, city: Engine) -> None:
    yesterday = date.today() - timedelta(days=1)
    late_utc = f"{yesterday.isoformat()}T23:30:00+00:00"  # 01:30 (or 02:30) in Chișinău
    r = bank.post({**payment("D1", A1, "10.00"), "paid_at": late_utc})
    assert r.json()["business_day"] == date.today().isoformat()


def test_retry_with_same_content_replays_the_original_answer(bank: Api, city: Engine) -> None:
    body = payment("R1", A1, "100.00")
    first = bank.post(body)
    # the same content, written differently: key order, display account form, other offset
    same = dict(reversed(list(body.items())))
    same["account_no"] = f"{A1[:-1]}-{A1[-1]}"
    again = bank.post(same)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    assert again.headers["idempotent-replay"] == "true"
    assert _count(city, payments) == 1 and len(_rows(first.json())) == _count(city, allocations)


def test_same_txn_with_different_content_is_a_conflict(bank: Api, city: Engine) -> None:
    assert bank.post(payment("C1", A1, "100.00")).status_code == 201
    r = bank.post(payment("C1", A1, "100.01"))
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["result"]) == ("TXN_CONFLICT", 300)
    assert _count(city, payments) == 1


def test_requests_that_change_money_are_kept(bank: Api, city: Engine) -> None:
    raw = json.dumps(payment("K1", A1, "10.00")).encode()
    headers = {**bank.headers(), "content-type": "application/json"}
    assert bank.client.post("/pf/v1/payments", content=raw, headers=headers).status_code == 201
    bank.post(payment("K2", UNKNOWN_ACCOUNT, "10.00"))  # refused, still kept
    with city.connect() as conn:
        kept = conn.execute(select(api_requests).order_by(api_requests.c.id)).all()
    assert [(k.method, k.path, k.status_code) for k in kept] == [
        ("POST", "/pf/v1/payments", 201),
        ("POST", "/pf/v1/payments", 404),
    ]
    assert kept[0].body == raw and kept[0].body_sha256 == hashlib.sha256(raw).hexdigest()


BAD_AMOUNTS = [
    ("10.555", 300),  # three decimals
    ("-5.00", 241),
    ("0", 241),
    ("0.00", 241),
    ("1e3", 300),  # exponent
    ("abc", 300),
    ("", 300),
    ("10,50", 300),
    (" ", 300),
    ("99999999999999999999.00", 242),
    ("1000000.01", 242),  # above the per-payment ceiling
    (10.5, 300),  # a JSON number, not a string
    (None, 300),
]


@pytest.mark.parametrize(("amount", "result"), BAD_AMOUNTS)
def test_bad_amounts_are_refused_and_nothing_is_stored(
    bank: Api, city: Engine, amount: object, result: int
) -> None:
    r = bank.post({**payment("B1", A1), "amount": amount})
    assert r.status_code == 400
    assert (r.json()["code"], r.json()["result"]) == ("INVALID_AMOUNT", result)
    assert _count(city, payments) == 0 and _count(city, allocations) == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"currency": "EUR"}, 400, "INVALID_CURRENCY"),
        ({"currency": "mdl"}, 400, "INVALID_CURRENCY"),
        ({"account_no": UNKNOWN_ACCOUNT}, 404, "ACCOUNT_NOT_FOUND"),
        ({"account_no": A3}, 422, "ACCOUNT_CLOSED"),
        ({"account_no": "1234"}, 400, "INVALID_ACCOUNT"),
        ({"paid_at": "2026-11-24T10:00:00"}, 400, "INVALID_PAID_AT"),  # no offset
        ({"paid_at": "yesterday"}, 400, "INVALID_PAID_AT"),
        ({"paid_at": "2999-01-01T00:00:00+02:00"}, 400, "INVALID_PAID_AT"),
        ({"agent_txn_id": "x" * 36}, 400, "INVALID_TXN_ID"),
        ({"agent_txn_id": "a b"}, 400, "INVALID_TXN_ID"),
        ({"agent_txn_id": ""}, 400, "INVALID_TXN_ID"),
        ({"invoice_no": "NOPE"}, 422, "UNKNOWN_INVOICE"),
        ({"services": [{"service_code": "GAZ", "amount": "380.00"}]}, 422, "UNKNOWN_SERVICE"),
        ({"services": [{"service_code": "INCALZ", "amount": "1.00"}]}, 422,
         "SERVICE_SUM_MISMATCH"),
        ({"services": [{"service_code": "INCALZ", "amount": "380.001"}]}, 400, "INVALID_AMOUNT"),
        ({"services": [{"service_code": "INCALZ"}]}, 400, "VALIDATION_ERROR"),
        ({"services": "INCALZ"}, 400, "VALIDATION_ERROR"),
        ({"agent_txn_id": None}, 400, "INVALID_TXN_ID"),
    ],
)  # fmt: skip
def test_refusals_have_stable_codes_and_store_nothing(
    bank: Api, city: Engine, change: dict, status: int, code: str
) -> None:
    r = bank.post({**payment("E1", A1), **change})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code and body["status"] == status and isinstance(body["result"], int)
    assert _count(city, payments) == 0 and _count(city, allocations) == 0


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b"null", b'{"agent_txn_id": "x"}', b"\xff\xfe", b"", b'"x"']
)
def test_malformed_bodies_are_a_clear_400(bank: Api, city: Engine, raw: bytes) -> None:
    headers = {**bank.headers(), "content-type": "application/json"}
    r = bank.client.post("/pf/v1/payments", content=raw, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert _count(city, payments) == 0


def test_payment_for_a_closed_day_is_booked_on_the_first_open_day(bank: Api, city: Engine) -> None:
    today = date.today()
    with city.begin() as conn:
        conn.execute(
            insert(business_days),
            [
                {"day": today, "status": "closed"},
                {"day": today + timedelta(days=1), "status": "closed"},
            ],
        )
    r = bank.post(payment("DC1", A1, "10.00", paid_at=now_iso()))
    assert r.status_code == 201, r.text
    assert r.json()["business_day"] == str(today + timedelta(days=2))
    with city.connect() as conn:
        days = conn.execute(select(allocations.c.business_day).distinct()).scalars().all()
    assert days == [today + timedelta(days=2)]


def test_two_agents_have_separate_txn_namespaces(bank: Api, other_bank: Api) -> None:
    a = bank.post(payment("SAME", A1, "10.00"))
    b = other_bank.post(payment("SAME", A1, "20.00"))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["payment_id"] != b.json()["payment_id"]
