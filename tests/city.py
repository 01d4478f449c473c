"""The small city under the API tests (``tests/api/conftest.py``) and the workspace tests
(``tests/workspace/kit.py``), inserted with Core: the same providers, services, manager and
accounts; each suite names its own invoices, so that its tests can state exact bani.

- ``A1`` Ion Popescu, ``A2`` Юрий Соколов, ``A4`` Ana Ciobanu, ``A5`` Gheorghe Țurcanu: open;
  ``A3`` Maria Rusu: closed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert

from reconciliation.references import make_account_no
from schemas import tables as t

A1, A2, A3, A4, A5 = (make_account_no(n) for n in (1000001, 1000002, 1000003, 1000004, 1000005))

PROVIDERS = [("APACANAL", "Apă-Canal Chișinău"), ("TERMO", "Termoelectrica"), ("GESTACC", "ACC")]
SERVICES = [
    ("APARECE", "Apă rece"),
    ("CANAL", "Canalizare"),
    ("DESERV", "Deservirea blocului locativ"),
    ("INCALZ", "Încălzire"),
]
# account, payer, address, status
ACCOUNTS = [
    (A1, "Ion Popescu", "str. Ismail 86, ap. 12, sect. Centru", "open"),
    (A2, "Юрий Соколов", "bd. Dacia 20/1, ap. 5, sect. Botanica", "open"),
    (A3, "Maria Rusu", "str. Ismail 86, ap. 13, sect. Centru", "closed"),
    (A4, "Ana Ciobanu", "str. Ismail 86, ap. 14, sect. Centru", "open"),
    (A5, "Gheorghe Țurcanu", "str. Alba Iulia 5, ap. 40, sect. Buiucani", "open"),
]
# invoice_no, account, period, [(service, provider, bani)]
Invoice = tuple[str, str, str, list[tuple[str, str, int]]]


def insert_base(conn: Connection, accounts: list[tuple[str, str, str, str]],
                invoices: list[Invoice]) -> None:  # fmt: skip
    """Providers, services, the manager ACC-001, ``accounts`` and ``invoices`` (all open, of
    one register import)."""
    now = datetime.now(UTC)
    conn.execute(insert(t.providers), [
        {"code": c, "name": n, "iban": f"MD24AG000000022{i:09d}"}
        for i, (c, n) in enumerate(PROVIDERS)
    ])  # fmt: skip
    conn.execute(insert(t.services), [{"code": c, "name": n} for c, n in SERVICES])
    conn.execute(insert(t.managers), [{"id": 1, "code": "ACC-001", "name": "ACC Ismail"}])
    conn.execute(insert(t.accounts), [
        {"account_no": a, "manager_id": 1, "payer_name": n, "address": ad, "status": s}
        for a, n, ad, s in accounts
    ])  # fmt: skip
    imp = conn.execute(insert(t.register_imports), {
        "periods": ",".join(sorted({period for _, _, period, _ in invoices})),
        "sha256": "0" * 64, "imported_at": now, "invoices": len(invoices),
        "lines": sum(len(lines) for *_, lines in invoices),
    }).inserted_primary_key[0]  # fmt: skip
    ids = {
        name: dict(conn.execute(tab.select().with_only_columns(tab.c[key], tab.c.id)).all())
        for name, tab, key in (("acc", t.accounts, "account_no"), ("svc", t.services, "code"),
                               ("prov", t.providers, "code"))
    }  # fmt: skip
    for inv_no, acc, period, lines in invoices:
        inv_id = conn.execute(insert(t.invoices), {
            "invoice_no": inv_no, "version": 1, "account_id": ids["acc"][acc],
            "period": period, "issued_on": date(2026, 11, 5), "due_on": date(2026, 11, 25),
            "payment_ref": f"RF00{inv_no}", "status": "open", "import_id": imp,
        }).inserted_primary_key[0]  # fmt: skip
        conn.execute(insert(t.invoice_lines), [
            {"invoice_id": inv_id, "service_id": ids["svc"][s], "provider_id": ids["prov"][p],
             "amount_due": bani}
            for s, p, bani in lines
        ])  # fmt: skip
