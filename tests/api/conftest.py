"""A small city inserted with Core, agents, and a TestClient, on SQLite and PostgreSQL.

The city is tiny and explicit so that tests can assert exact allocations:

- ``A1`` (Ion Popescu): invoice AV1 of 2026-11 (cold water 100.00, sewage 50.00, maintenance
  30.00) and invoice TE1 from Termoelectrica (heating 200.00): 380.00 due;
- ``A2``: an old debt AV0 of 2026-10 (cold water 40.00) and AV2 of 2026-11 (cold water 60.00,
  sewage 20.00): 120.00 due, oldest first;
- ``A3``: closed; ``A4``: open with nothing invoiced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, insert

from gateway.app import create_app
from gateway.services.agents import NewAgent, add_agent
from gateway.settings import Settings
from reconciliation.references import make_account_no
from schemas import tables as t

A1, A2, A3, A4 = (make_account_no(n) for n in (1000001, 1000002, 1000003, 1000004))
UNKNOWN_ACCOUNT = make_account_no(7654321)

PROVIDERS = [("APACANAL", "Apă-Canal Chișinău"), ("TERMO", "Termoelectrica"), ("GESTACC", "ACC")]
SERVICES = [
    ("APARECE", "Apă rece"),
    ("CANAL", "Canalizare"),
    ("DESERV", "Deservirea blocului locativ"),
    ("INCALZ", "Încălzire"),
]
# invoice_no, account, period, [(service, provider, bani)]
INVOICES = [
    ("AV1", A1, "2026-11", [("APARECE", "APACANAL", 10000), ("CANAL", "APACANAL", 5000),
                            ("DESERV", "GESTACC", 3000)]),
    ("TE1", A1, "2026-11", [("INCALZ", "TERMO", 20000)]),
    ("AV0", A2, "2026-10", [("APARECE", "APACANAL", 4000)]),
    ("AV2", A2, "2026-11", [("APARECE", "APACANAL", 6000), ("CANAL", "APACANAL", 2000)]),
]  # fmt: skip


def now_iso(delta: timedelta = timedelta()) -> str:
    """An ISO 8601 instant with an offset, ``delta`` from now (paid_at must not be future)."""
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def insert_city(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.providers), [
            {"code": c, "name": n, "iban": f"MD24AG000000022{i:09d}"}
            for i, (c, n) in enumerate(PROVIDERS)
        ])  # fmt: skip
        conn.execute(insert(t.services), [{"code": c, "name": n} for c, n in SERVICES])
        conn.execute(insert(t.managers), [{"id": 1, "code": "ACC-001", "name": "ACC Ismail"}])
        conn.execute(insert(t.accounts), [
            {"account_no": a, "manager_id": 1, "payer_name": name, "address": addr,
             "status": status}
            for a, name, addr, status in (
                (A1, "Ion Popescu", "str. Ismail 86, ap. 12, sect. Centru", "open"),
                (A2, "Юрий Соколов", "bd. Dacia 20/1, ap. 5, sect. Botanica", "open"),
                (A3, "Maria Rusu", "str. Ismail 86, ap. 13, sect. Centru", "closed"),
                (A4, "Ana Ciobanu", "str. Ismail 86, ap. 14, sect. Centru", "open"),
            )
        ])  # fmt: skip
        imp = conn.execute(insert(t.register_imports), {
            "periods": "2026-10,2026-11", "sha256": "0" * 64, "imported_at": now,
            "invoices": len(INVOICES), "lines": 7,
        }).inserted_primary_key[0]  # fmt: skip
        ids = {
            table: dict(conn.execute(t.__dict__[table].select().with_only_columns(
                t.__dict__[table].c[key], t.__dict__[table].c.id)).all())
            for table, key in (("accounts", "account_no"), ("services", "code"),
                               ("providers", "code"))
        }  # fmt: skip
        for inv_no, acc, period, lines in INVOICES:
            inv_id = conn.execute(insert(t.invoices), {
                "invoice_no": inv_no, "version": 1, "account_id": ids["accounts"][acc],
                "period": period, "issued_on": date(2026, 11, 5), "due_on": date(2026, 11, 25),
                "payment_ref": f"RF00{inv_no}", "status": "open", "import_id": imp,
            }).inserted_primary_key[0]  # fmt: skip
            conn.execute(insert(t.invoice_lines), [
                {"invoice_id": inv_id, "service_id": ids["services"][s],
                 "provider_id": ids["providers"][p], "amount_due": bani}
                for s, p, bani in lines
            ])  # fmt: skip


@dataclass
class Api:
    """A client with an agent's key, and helpers for the common calls."""

    client: TestClient
    agent: NewAgent

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent.key}"}

    def post(self, body: dict, **kw):  # type: ignore[no-untyped-def]
        return self.client.post("/pf/v1/payments", json=body, headers=self.headers(), **kw)

    def get(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers())


def payment(txn: str, account: str = A1, amount: str = "380.00", **extra: object) -> dict:
    return {"agent_txn_id": txn, "account_no": account, "amount": amount, "currency": "MDL",
            "paid_at": now_iso(), **extra}  # fmt: skip


@pytest.fixture
def city(engine: Engine) -> Engine:
    insert_city(engine)
    return engine


@pytest.fixture
def app_client(settings: Settings, city: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, city)) as client:
        yield client


@pytest.fixture
def bank(app_client: TestClient, city: Engine) -> Api:
    return Api(app_client, add_agent(city, "maib"))


@pytest.fixture
def other_bank(app_client: TestClient, city: Engine) -> Api:
    return Api(app_client, add_agent(city, "micb"))
