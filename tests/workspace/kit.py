"""A small city (``tests/city.py``) with a review queue, and people, inserted with Core for the
workspace tests.

Accounts A1..A4 with open invoices (A1 owes 380.00, A2 120.00), one statement file, and
review items of several reasons with ranked candidates; the search column is filled as the
ingest fills it. People: ``ana`` (accountant), ``sam`` (supervisor), ``vic`` (viewer), all
with the password ``PASSWORD`` (already changed, so no one-time password page).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache

from argon2 import PasswordHasher
from litestar.testing import TestClient
from sqlalchemy import Engine, insert, select

from gateway.services.people import Role
from reconciliation.fold import search_text
from schemas import tables as t
from tests.city import A1, A2, A3, A4, A5, ACCOUNTS, Invoice, insert_base

PASSWORD = "correct horse battery"
DAY = date(2026, 11, 20)

# invoice, account, period, [(service, provider, bani)]
INVOICES: list[Invoice] = [
    ("AV1", A1, "2026-11", [("APARECE", "APACANAL", 10000), ("CANAL", "APACANAL", 5000),
                            ("DESERV", "GESTACC", 3000)]),
    ("TE1", A1, "2026-11", [("INCALZ", "TERMO", 20000)]),
    ("AV2", A2, "2026-11", [("APARECE", "APACANAL", 8000), ("CANAL", "APACANAL", 4000)]),
    ("AV5", A5, "2026-11", [("APARECE", "APACANAL", 5000)]),
]  # fmt: skip
# reason, amount, debtor, iban, remittance, day, candidates [(account, score, why)]
ITEMS = [
    ("CHECK_DIGIT_FAILED", 38000, "Ion Popescu", "MD24AG000225100013104168",
     "cont personal 1000 0013 noiembrie", date(2026, 11, 19),
     [(A1, 0.95, "digit 8 read as 3; payer name matches; amount equals the open total")]),
    ("NAME_ONLY", 12000, "Iurii Socolov", "MD11MO2224ASV12345678900",
     "Соколов Юрий, бд. Дачия 20/1 кв 5", date(2026, 11, 12),
     [(A2, 0.55, "holder name and address resemble the payment")]),
    ("ACCOUNT_CLOSED", 15000, "Maria Rusu", None, "c/p 1000003-6 apa", date(2026, 11, 20),
     [(A3, 0.5, "named account, but it is closed"), (A4, 0.4, "same building")]),
    ("NO_REFERENCE", 99900, None, None, "", date(2026, 11, 17), []),
    ("MULTIPLE_ACCOUNTS", 50000, "Gheorghe Turcanu", "MD40EX0000000000000123456",
     "plata 10000012 si 10000050", date(2026, 11, 20),
     [(A1, 0.6, "one of several accounts in the text"),
      (A5, 0.6, "one of several accounts in the text")]),
]  # fmt: skip


def insert_city(engine: Engine) -> dict[str, int]:
    """The city and the queue; returns the review item ids by reason."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        insert_base(conn, ACCOUNTS, INVOICES)
        raw = conn.execute(insert(t.raw_files), {
            "sha256": "a" * 64, "source": "maib-statement", "filename": "camt053_20261120.xml",
            "size": 10, "format": "camt053", "status": "applied", "received_at": now,
        }).inserted_primary_key[0]  # fmt: skip
        out: dict[str, int] = {}
        for n, (reason, amount, debtor, iban, text, day, cands) in enumerate(ITEMS):
            pid = conn.execute(insert(t.payments), {
                "source": "maib-statement", "external_id": f"E{n}", "channel": "transfer",
                "business_day": day, "booking_date": day, "amount": amount, "currency": "MDL",
                "direction": "credit", "reversal": False, "remittance": text,
                "debtor_name": debtor, "debtor_iban": iban, "status": "review",
                "reason": reason, "raw_file_id": raw, "created_at": now,
                "account_servicer_ref": f"REF{n}",
            }).inserted_primary_key[0]  # fmt: skip
            out[reason] = conn.execute(insert(t.review_items), {
                "payment_id": pid, "reason": reason, "state": "open", "created_at": now,
                "candidates": [{"account_no": a, "score": s, "reason": w} for a, s, w in cands],
                "search": search_text(debtor, iban, text),
            }).inserted_primary_key[0]  # fmt: skip
    return out


@lru_cache(maxsize=1)
def _hash() -> str:
    return PasswordHasher().hash(PASSWORD)  # argon2 is slow on purpose: once per test run


def add_people(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.users), [
            {"username": name, "role": role.value, "display_name": name.title(),
             "password_hash": _hash(), "created_at": now, "password_changed_at": now}
            for name, role in (("ana", Role.ACCOUNTANT), ("sam", Role.SUPERVISOR),
                               ("vic", Role.VIEWER), ("fay", Role.FINANCE))
        ])  # fmt: skip


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    form = client.get("/app/login")
    response = client.post(
        "/app/login",
        data={"username": username, "password": password, "_csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]


def add_allocated_payment(engine: Engine, external_id: str = "AUTO-1") -> int:
    """A transfer the matcher placed automatically on A1's invoice AV1 (150.00, no review item)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        acc = conn.execute(select(t.accounts.c.id).where(t.accounts.c.account_no == A1)).scalar()
        lines = conn.execute(
            select(t.invoice_lines.c.id, t.invoice_lines.c.service_id,
                   t.invoice_lines.c.provider_id, t.invoice_lines.c.amount_due)
            .join(t.invoices, t.invoices.c.id == t.invoice_lines.c.invoice_id)
            .where(t.invoices.c.invoice_no == "AV1", t.invoice_lines.c.amount_due >= 5000)
            .order_by(t.invoice_lines.c.id)
        ).all()  # fmt: skip
        pid = conn.execute(insert(t.payments).values(
            source="maib-statement", external_id=external_id, channel="transfer",
            business_day=DAY, booking_date=DAY, amount=sum(r.amount_due for r in lines),
            currency="MDL", direction="credit", reversal=False, remittance=f"cont {A1}",
            debtor_name="Ion Popescu", status="allocated", account_no=A1, reason="MATCHED",
            created_at=now,
        ).returning(t.payments.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(t.allocations), [
            {"payment_id": pid, "account_id": acc, "invoice_line_id": r.id,
             "service_id": r.service_id, "provider_id": r.provider_id, "amount": r.amount_due,
             "kind": "payment", "business_day": DAY, "created_by": "ingest", "created_at": now}
            for r in lines
        ])  # fmt: skip
    return pid
