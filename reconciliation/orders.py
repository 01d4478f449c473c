"""Payment orders: what to transfer for a closed day, and only what was not transferred yet.

Pure. The service hands in what the day owes each creditor and what earlier files of the
day already carried; the answer is the lines of the next file (none: nothing is owed, and
generating again returns the file that exists). Rules:

- remittance: one transfer per provider, the day's amount to remit (services summed); the
  remittance information names the day, the file number and the services;
- a provider already paid for the day gets only the difference in a new numbered file; a
  negative difference (paid more than owed) is never "paid back" by an order: it is reported
  (``Overpaid``) and settles against the provider's next remittance by hand;
- refunds: one transfer per refund row not yet in a file;
- identifiers fit ISO 20022's Max35Text: message ``PLATA-R-20261120-1``, end-to-end
  ``PL20261120R1P17`` (day, kind, file number, provider or refund id), unique forever.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class OrderKind(StrEnum):
    REMITTANCE = "remittance"
    REFUND = "refund"


class OrderState(StrEnum):
    CREATED = "created"
    SENT = "sent"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class Creditor:
    code: str  # provider code, or refund id as text
    ref: int  # provider id or refund id: goes into the end-to-end id
    name: str
    iban: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    creditor: Creditor
    amount: int  # bani, > 0
    end_to_end_id: str
    remittance_info: str


@dataclass(frozen=True, slots=True)
class Overpaid:
    provider: str
    owed: int
    paid: int


def message_id(kind: OrderKind, day: date, number: int) -> str:
    return f"PLATA-{'R' if kind is OrderKind.REMITTANCE else 'F'}-{day:%Y%m%d}-{number}"


def end_to_end(kind: OrderKind, day: date, number: int, ref: int) -> str:
    tag = "R" if kind is OrderKind.REMITTANCE else "F"
    who = "P" if kind is OrderKind.REMITTANCE else "D"
    return f"PL{day:%Y%m%d}{tag}{number}{who}{ref}"


def plan_remittance(
    day: date,
    number: int,
    owed: Mapping[str, int],
    paid: Mapping[str, int],
    creditors: Mapping[str, Creditor],
    services: Mapping[str, Sequence[str]],
) -> tuple[list[OrderLine], list[Overpaid]]:
    """The lines of remittance file ``number`` of ``day``: per provider, owed minus paid."""
    lines, over = [], []
    for code in sorted(owed.keys() | paid.keys()):
        diff = owed.get(code, 0) - paid.get(code, 0)
        if diff < 0:
            over.append(Overpaid(code, owed.get(code, 0), paid.get(code, 0)))
        if diff <= 0:
            continue
        c = creditors[code]
        info = remittance_text(day, number, services.get(code, ()))
        lines.append(OrderLine(c, diff, end_to_end(OrderKind.REMITTANCE, day, number, c.ref), info))
    return lines, over


def remittance_text(day: date, number: int, services: Sequence[str]) -> str:
    head = f"Incasari {day:%d.%m.%Y}"
    if number > 1:
        head += f" corectie {number}"
    return ascii_text(f"{head}; servicii: {', '.join(sorted(services))}")


def plan_refunds(
    day: date, number: int, refunds: Sequence[tuple[int, str, str, int, str]]
) -> list[OrderLine]:
    """(refund id, payer name, IBAN, amount, reason) -> one line each."""
    return [
        OrderLine(
            Creditor(str(rid), rid, name, iban),
            amount,
            end_to_end(OrderKind.REFUND, day, number, rid),
            ascii_text(f"Restituire plata din {day:%d.%m.%Y}: {reason}"),
        )
        for rid, name, iban, amount, reason in refunds
        if amount > 0
    ]


def ascii_text(text: str, limit: int = 140) -> str:
    """Latin without diacritics (what every bank's pain.001 channel accepts), <= limit."""
    folded = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    plain = plain.encode("ascii", "replace").decode().replace("?", " ").strip()
    return plain if len(plain) <= limit else plain[: limit - 3].rstrip() + "..."
