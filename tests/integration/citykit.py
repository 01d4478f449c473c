"""A tiny city written straight into the schema, for integration tests that need one.

Two providers, three services, three accounts (one closed), invoices over two periods. Kept
small and explicit so that a test can state the exact bani it expects.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, insert

from reconciliation.references import make_account_no, make_rf
from schemas import tables as t

ACC_ION = make_account_no(1234567)
ACC_MARIA = make_account_no(2345678)
ACC_CLOSED = make_account_no(3456789)

# (invoice_no, account, period, [(service, provider, bani)])
INVOICES = [
    ("INV-2026-10-1", ACC_ION, "2026-10", [("HEAT", "TERMO", 30000)]),
    ("INV-2026-11-1", ACC_ION, "2026-11", [("HEAT", "TERMO", 60000), ("WATER", "APA", 20000)]),
    ("INV-2026-11-2", ACC_MARIA, "2026-11", [("WATER", "APA", 15050), ("MAINT", "IMGFL5", 9950)]),
    ("INV-2026-11-3", ACC_CLOSED, "2026-11", [("WATER", "APA", 1000)]),
]


def load_tiny_city(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(t.providers),
            [
                {"id": 1, "code": "TERMO", "name": "Termoelectrica", "iban": "MD00TERMO"},
                {"id": 2, "code": "APA", "name": "Apă-Canal Chișinău", "iban": "MD00APA"},
                {"id": 3, "code": "IMGFL5", "name": "IMGFL nr. 5", "iban": "MD00IMGFL5"},
            ],
        )
        conn.execute(
            insert(t.services),
            [
                {"id": 1, "code": "HEAT", "name": "Încălzire"},
                {"id": 2, "code": "WATER", "name": "Apă și canalizare"},
                {"id": 3, "code": "MAINT", "name": "Deservirea blocului locativ"},
            ],
        )
        conn.execute(insert(t.managers), [{"id": 1, "code": "IMGFL5", "name": "IMGFL nr. 5"}])
        conn.execute(
            insert(t.accounts),
            [
                {
                    "id": 1,
                    "account_no": ACC_ION,
                    "manager_id": 1,
                    "payer_name": "Ion Rusu",
                    "address": "str. Ismail 86, ap. 12",
                    "status": "open",
                },
                {
                    "id": 2,
                    "account_no": ACC_MARIA,
                    "manager_id": 1,
                    "payer_name": "Mariana Țurcanu",
                    "address": "bd. Dacia 27/1, ap. 45",
                    "status": "open",
                },
                {
                    "id": 3,
                    "account_no": ACC_CLOSED,
                    "manager_id": 1,
                    "payer_name": "Иван Петров",
                    "address": "str. Alba Iulia 5, ap. 3",
                    "status": "closed",
                },
            ],
        )
        conn.execute(
            insert(t.register_imports),
            [
                {
                    "id": 1,
                    "periods": "2026-10,2026-11",
                    "sha256": "0" * 64,
                    "imported_at": now,
                    "invoices": len(INVOICES),
                    "lines": 6,
                }
            ],
        )
        acc_id = {ACC_ION: 1, ACC_MARIA: 2, ACC_CLOSED: 3}
        svc = {"HEAT": 1, "WATER": 2, "MAINT": 3}
        prov = {"TERMO": 1, "APA": 2, "IMGFL5": 3}
        line_id = 0
        for n, (no, acc, period, lines) in enumerate(INVOICES, start=1):
            conn.execute(
                insert(t.invoices),
                [
                    {
                        "id": n,
                        "invoice_no": no,
                        "version": 1,
                        "account_id": acc_id[acc],
                        "period": period,
                        "issued_on": date(2026, 11, 1),
                        "due_on": date(2026, 11, 25),
                        "payment_ref": make_rf(no.replace("-", "")),
                        "status": "open",
                        "import_id": 1,
                    }
                ],
            )
            for service, provider, bani in lines:
                line_id += 1
                conn.execute(
                    insert(t.invoice_lines),
                    [
                        {
                            "id": line_id,
                            "invoice_id": n,
                            "service_id": svc[service],
                            "provider_id": prov[provider],
                            "amount_due": bani,
                        }
                    ],
                )
