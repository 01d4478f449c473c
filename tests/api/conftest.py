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
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.services.agents import NewAgent, add_agent
from gateway.settings import Settings
from reconciliation.references import make_account_no
from tests.city import A1, A2, A3, A4, ACCOUNTS, Invoice, insert_base  # noqa: F401  (A3, A4: for the tests)

UNKNOWN_ACCOUNT = make_account_no(7654321)

# invoice_no, account, period, [(service, provider, bani)]
INVOICES: list[Invoice] = [
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
    with engine.begin() as conn:
        insert_base(conn, ACCOUNTS[:4], INVOICES)  # no A5: the API tests' city has four


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
