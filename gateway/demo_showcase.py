"""The demo's review showcase: one more bank statement whose transfers reach the review queue
for every reason a camt.053 statement can produce, so `make demo` shows the queue's range.

Written once into the demo city's inbox (``inbox/showcase/``) from its register, for a second
account of the billing centre (its own statement, so the main statement's chain is left
alone). Reasons that only itemised registries carry (named services: UNKNOWN_SERVICE,
SERVICE_SUM_MISMATCH), structured references that disagree (CONFLICTING_REFERENCES) and an
accountant's unmatch (UNMATCHED) are not made here; the generated day's post and terminal
registries and the settlement of lump sums (SETTLEMENT_PENDING) come with the city itself.
A bank's own debit (a fee) is NOT_A_PAYMENT and is rejected at once, not queued.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fixtures.writers import StatementMeta, WriterEntry, write_camt053
from reconciliation.money import parse_amount
from reconciliation.references import display_account_no, make_account_no, make_rf

SHOWCASE_IBAN = "MD21EX000000022510000001"


def _register(city: Path) -> tuple[list[dict[str, str]], dict[str, int], dict[str, str]]:
    with open(city / "register" / "accounts.csv", encoding="utf-8") as fh:
        accounts = list(csv.DictReader(fh))
    due: dict[str, int] = defaultdict(int)
    invoice_of: dict[str, str] = {}
    with open(city / "register" / "invoices.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            due[row["account_no"]] += parse_amount(row["amount_due"], allow_negative=True)
            invoice_of.setdefault(row["account_no"], row["invoice_no"])
    return accounts, due, invoice_of


def _wrong_digit(account_no: str) -> str:
    return f"{account_no[:7]}-{(int(account_no[7]) + 3) % 10}"


def showcase_entries(city: Path, day: date) -> list[WriterEntry]:
    accounts, due, invoice_of = _register(city)
    open_ = [a for a in accounts if a["status"] == "open" and due[a["account_no"]] > 0]
    closed = next(a for a in accounts if a["status"] == "closed")
    a, b, c, d, e, f, g = open_[10:17]
    known = {x["account_no"] for x in accounts}
    missing = next(make_account_no(n) for n in range(9_999_999, 1_000_000, -1)
                   if make_account_no(n) not in known)  # fmt: skip
    odd = 12_345  # 123.45 MDL: no account's open total, so no correction is "exact"

    def entry(
        n: int, amount: int, text: str | None, name: str | None = None, **kw: Any
    ) -> WriterEntry:
        return WriterEntry(amount=amount, booking_date=kw.pop("booking_date", day),
                           acct_svcr_ref=kw.pop("ref", f"SHOW-{n:03d}"), remittance=text,
                           debtor_name=name, **kw)  # fmt: skip

    return [
        entry(1, 50_000, None),  # NO_REFERENCE
        entry(2, odd, f"cont personal {_wrong_digit(a['account_no'])} apa"),  # CHECK_DIGIT_FAILED
        entry(3, odd, f"cont personal {b['account_no'][:7]} noiembrie"),  # CHECK_DIGIT_MISSING
        entry(4, odd, f"cont personal {display_account_no(missing)}"),  # ACCOUNT_NOT_FOUND
        entry(
            5, odd, f"c/p {display_account_no(closed['account_no'])}", closed["payer_name"]
        ),  # ACCOUNT_CLOSED
        entry(
            6,
            odd,
            f"c/p {display_account_no(c['account_no'])} si {display_account_no(d['account_no'])}",
        ),  # MULTIPLE_ACCOUNTS
        entry(7, odd, f"plata {e['account_no']} servicii", "Vasile Cojocaru"),  # UNCONFIRMED
        entry(8, odd, f"{f['payer_name']}, {f['address']}"),  # NAME_ONLY
        entry(9, odd, "factura nr 99887766 noiembrie"),  # UNKNOWN_INVOICE
        entry(10, odd, f"plata {make_rf('99887766')}"),  # UNKNOWN_PAYMENT_REF
        entry(
            11, due[g["account_no"]] + 777, f"aviz {invoice_of[g['account_no']]}", "Petru Balan"
        ),  # AMOUNT_MISMATCH_INVOICE
        entry(
            12,
            due[a["account_no"]],
            f"cont personal {display_account_no(a['account_no'])}",
            ref="SHOW-DUP",
        ),  # placed; the same bank reference again is LIKELY_DUPLICATE
        entry(
            13,
            due[a["account_no"]],
            f"cont personal {display_account_no(a['account_no'])}",
            ref="SHOW-DUP",
        ),
        entry(
            14,
            9_900,
            "Storno plata gresita",
            reversal=True,
            direction="debit",
            end_to_end_id="GHOST-E2E",
        ),  # REVERSAL_UNMATCHED
        entry(15, 4_500, "comision deservire cont", direction="debit"),  # NOT_A_PAYMENT
        entry(
            16,
            odd,
            f"cont personal {display_account_no(b['account_no'])}",
            "Ion " + "Popescu-" * 40,
        ),  # FIELD_TOO_LONG
        entry(
            17,
            odd,
            f"cont personal {display_account_no(c['account_no'])}",
            booking_date=day - timedelta(days=3 * 365),
        ),  # IMPLAUSIBLE_DATE
        entry(18, 15_000_000, f"cont personal {display_account_no(d['account_no'])}"),
    ]  # the last: 150,000 MDL on one flat, IMPLAUSIBLE_CREDIT


def write_showcase(city: Path, day: date) -> Path | None:
    """The showcase statement in the city's inbox, once; None when it is already there."""
    path = city / "inbox" / "showcase" / f"showcase_camt053_{day:%Y%m%d}.xml"
    if path.exists():
        return None
    meta = StatementMeta(SHOWCASE_IBAN, f"SHOW-{day:%Y%m%d}", opening_balance=100_000_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_camt053(showcase_entries(city, day), meta))
    return path
