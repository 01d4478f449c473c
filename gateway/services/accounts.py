"""Account lookup for the bank API: the open invoices of one account, masked for a receipt.

Decisions:

- A bank sees what a receipt needs and no more: the payer's initials ("I*** P***") and the
  street and building without the flat (``mask_name``, ``mask_address``); never the full name.
- "Open" is derived, never stored: a line's ``amount_due`` here is what is still to pay on it
  (billed minus its allocations). An invoice is shown while anything is left on it; the
  account's ``total_due`` is the sum of the positive line amounts, which is exactly what the
  allocator places line by line with nothing left over (credit lines are shown, not netted).
- Reads bypass SQLAlchemy's transaction on SQLite (``gateway.db.read_rows``): the engine
  opens every transaction with ``BEGIN IMMEDIATE`` so that writers serialize, and a lookup
  taking the write lock would queue behind every payment's fsync and behind other lookups.
  The lookup is a single statement on a kept raw reader, a WAL snapshot of its own without
  any BEGIN, blocking nobody.
  The SQL is plain text with named parameters, which both sqlite3 and SQLAlchemy's
  ``text()`` accept (psycopg gets them as ``%(name)s``).
- ``Refused`` (gateway.errors) is the one refusal type of the API services: a stable
  ``code`` and a message; the HTTP layer maps codes to statuses (gateway.api.problems), a
  CLI prints the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from gateway.db import read_rows
from gateway.errors import Refused
from reconciliation.references import is_valid_account_no, normalize_account_no

__all__ = ["AccountView", "Refused", "canonical_account", "lookup", "mask_address", "mask_name"]


def canonical_account(account_no: str) -> str:
    """The canonical 8-digit number, or ``Refused(INVALID_ACCOUNT)``."""
    canonical = normalize_account_no(account_no) if len(account_no) <= 32 else None
    if canonical is None or not is_valid_account_no(canonical):
        raise Refused("INVALID_ACCOUNT", "account number must be 7 digits and a check digit")
    return canonical


def mask_name(name: str) -> str:
    """ "Ion Popescu" -> "I*** P***": enough for the payer to recognise, not to identify."""
    return " ".join(f"{w[0]}***" for w in name.split() if w)


def mask_address(address: str) -> str:
    """Drop the flat ("ap. 12", "apt 3", "кв. 5") from a comma-separated address."""
    flat_prefixes = ("ap.", "ap ", "apt", "apartament", "кв", "bl.ap")
    parts = [p.strip() for p in address.split(",")]
    kept = [p for p in parts if p and not p.lower().startswith(flat_prefixes)]
    return ", ".join(kept)


# One statement (one snapshot): the account, then its open lines; an account without open
# invoices comes back as one row with NULL line columns.
LOOKUP_SQL = """
SELECT a.payer_name, a.address, a.status,
       i.invoice_no, i.period, i.issued_on, i.due_on, i.payment_ref,
       s.code, s.name, p.code, p.name, l.amount_due,
       l.amount_due - COALESCE(
           (SELECT SUM(al.amount) FROM allocations al WHERE al.invoice_line_id = l.id), 0)
FROM accounts a
LEFT JOIN invoices i ON i.account_id = a.id AND i.status = 'open'
LEFT JOIN invoice_lines l ON l.invoice_id = i.id
LEFT JOIN services s ON s.id = l.service_id
LEFT JOIN providers p ON p.id = l.provider_id
WHERE a.account_no = :a
ORDER BY i.period, i.invoice_no, l.id
"""


@dataclass(slots=True)
class LineView:
    service_code: str
    service_name: str
    provider_code: str
    provider_name: str
    billed: int
    amount_due: int


@dataclass(slots=True)
class InvoiceView:
    invoice_no: str
    period: str
    issued_on: str
    due_on: str
    payment_ref: str
    lines: list[LineView] = field(default_factory=list)
    #: what is still to pay on the invoice: the sum of its positive line amounts
    amount_due: int = 0


@dataclass(slots=True)
class AccountView:
    account_no: str
    payer: str
    address: str
    invoices: list[InvoiceView]
    total_due: int = 0


def lookup(engine: Engine, account_no: str) -> AccountView:
    """The account's open invoices, or ``Refused`` (INVALID_ACCOUNT, ACCOUNT_NOT_FOUND, ..)."""
    canonical = canonical_account(account_no)
    rows = read_rows(engine, LOOKUP_SQL, {"a": canonical})
    if not rows:
        raise Refused("ACCOUNT_NOT_FOUND", "no such account")
    payer, address, status = rows[0][:3]
    if status != "open":
        raise Refused("ACCOUNT_CLOSED", "the account is closed")
    shown = _open_invoices(rows)
    view = AccountView(canonical, mask_name(payer), mask_address(address), shown)
    view.total_due = sum(inv.amount_due for inv in shown)
    return view


def _open_invoices(rows: list[tuple]) -> list[InvoiceView]:
    """The invoices of the lookup's rows (ordered by the SQL) with anything left to pay."""
    invoices: dict[str, InvoiceView] = {}
    for row in rows:
        inv_no, period, issued, due, ref, s_code, s_name, p_code, p_name, billed, open_ = row[3:]
        if inv_no is None or s_code is None:
            continue
        inv = invoices.get(inv_no)
        if inv is None:
            inv = invoices[inv_no] = InvoiceView(inv_no, period, str(issued), str(due), ref)
        open_ = int(open_)
        inv.lines.append(LineView(s_code, s_name, p_code, p_name, int(billed), open_))
        if open_ > 0:
            inv.amount_due += open_
    return [inv for inv in invoices.values() if inv.amount_due > 0]
