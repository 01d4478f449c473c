"""SWIFT MT940 statements, read with the ``mt940`` library (package mt-940).

The library does the tag grammar; this module maps its output to ``PaymentRecord``s and adds
what a payment gateway needs that the library leaves to its caller:

- decoding: strict UTF-8 (BOM dropped), else cp1251, since local banks export both; the
  library is fed a ``StringIO`` (given a ``str`` it would treat text naming a file as a path);
- money: the library's ``Amount`` holds a ``Decimal`` built from the ``:61:`` text with the
  comma turned into a point; that Decimal goes to ``parse_amount``, never through a float,
  and three decimals are refused;
- marks: ``C``/``D`` give the direction; ``RC`` (reversal of a credit: money leaves) is a
  debit with ``reversal``, ``RD`` a credit with ``reversal``;
- identity: the ``//`` bank reference is the external id (and ``account_servicer_ref``); the
  customer reference, unless ``NONREF``, is the ``end_to_end_id``; without a bank reference
  the id is derived (``base.derive_ids``);
- remittance: an unstructured ``:86:`` is joined line to line without a separator (banks
  wrap at 65 characters, mid-word); a structured one (``?20``...) gives its purpose, and
  the applicant's name and IBAN as debtor;
- checks: every ``:61:`` line must become a transaction (the library silently merges a line
  without a transaction type code into the previous one), and per statement the opening
  balance plus the movements must equal the closing balance.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import mt940
from mt940.models import Transactions

from connectors.formats.base import Format, FormatError, decode_text, derive_ids, register
from reconciliation.model import PaymentRecord
from reconciliation.money import MoneyError, format_amount, parse_amount

_OPTIONS = mt940.Options(
    applicant_iban=True,
    merge_keeps_values=True,
    reversal_sign=True,
    case_insensitive_marks=True,
    unbounded_details=True,
    strip_bom=True,
)
_TAG61 = re.compile(r"(?m)^:61:")
_MARKS = {
    "C": ("credit", False),
    "D": ("debit", False),
    "RD": ("credit", True),
    "RC": ("debit", True),
}


class Mt940Format(Format):
    name = "mt940"

    def detect(self, head: bytes) -> bool:
        text = head.decode("latin-1")
        return re.search(r"(?m)^:20:", text) is not None and (
            re.search(r"(?m)^:(25|60F|60M|61):", text) is not None
        )

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return derive_ids(self._records(data))

    def _records(self, data: bytes) -> Iterator[PaymentRecord]:
        text = decode_text(data, "MT940").replace("\r\n", "\n").replace("\r", "\n")
        statements = _library_parse(text)
        if not statements:
            raise FormatError("MT940: no statement (:20:) found")
        expected = len(_TAG61.findall(text))
        found = sum(len(st) for st in statements)
        if expected != found:
            raise FormatError(
                f"MT940: {expected} :61: lines but {found} transactions were read "
                "(a :61: line without a transaction type code?)"
            )
        out: list[PaymentRecord] = []
        for no, st in enumerate(statements, start=1):
            out.extend(_statement_records(st, no))
        yield from out


def _library_parse(text: str) -> list[Transactions]:
    try:
        return mt940.parse_statements(io.StringIO(text), options=_OPTIONS)
    except FormatError:
        raise
    except Exception as exc:  # the library signals bad input with assorted exception types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"MT940: {reason[:200]}") from None


def _statement_records(st: Transactions, no: int) -> list[PaymentRecord]:
    where = f"MT940 statement {no}"
    account = str(st.data.get("account_identification") or "").strip()
    currency = st.currency or "MDL"
    records = []
    movement = 0
    for i, tx in enumerate(st, start=1):
        record = _record(tx.data, f"{where} transaction {i}", currency, account)
        movement += record.amount if record.direction == "credit" else -record.amount
        records.append(record)
    opening = _balance(st.data, ("final_opening_balance", "opening_balance"), where)
    closing = _balance(st.data, ("final_closing_balance", "closing_balance"), where)
    if opening is not None and closing is not None and opening + movement != closing:
        raise FormatError(
            f"{where}: balances do not agree: opening {format_amount(opening)} + movements "
            f"{format_amount(movement)} != closing {format_amount(closing)}"
        )
    return records


def _balance(data: dict[str, Any], keys: tuple[str, ...], where: str) -> int | None:
    for key in keys:
        bal = data.get(key)
        amount = getattr(getattr(bal, "amount", None), "amount", None)
        if isinstance(amount, Decimal):
            return _bani(amount, f"{where} {key}", signed=True)
    return None


def _bani(value: Decimal, where: str, *, signed: bool = False) -> int:
    try:
        return parse_amount(value, allow_negative=signed)
    except MoneyError as exc:
        raise FormatError(f"{where}: {exc}") from None


def _record(d: dict[str, Any], where: str, currency: str, account: str) -> PaymentRecord:
    mark = str(d.get("status") or "").upper()
    if mark not in _MARKS:
        raise FormatError(f"{where}: unknown debit/credit mark {mark!r}")
    direction, reversal = _MARKS[mark]
    amount = _bani(abs(d["amount"].amount), where)
    bank_ref = _clean(d.get("bank_reference"))
    customer_ref = _clean(d.get("customer_reference"))
    value_date = _as_date(d.get("date"))
    details = d.get("transaction_details")
    remittance = "".join(str(details).splitlines()) if details else _clean(d.get("purpose"))
    return PaymentRecord(
        source_format="mt940",
        external_id=bank_ref or "",
        amount=amount,
        booking_date=_as_date(d.get("entry_date")) or value_date,
        value_date=value_date,
        currency=str(d.get("currency") or currency),
        direction=direction,
        reversal=reversal,
        end_to_end_id=None if customer_ref in (None, "NONREF") else customer_ref,
        account_servicer_ref=bank_ref,
        remittance=remittance.strip() if remittance and remittance.strip() else None,
        debtor_name=_clean(d.get("applicant_name")),
        debtor_iban=_clean(d.get("applicant_iban")),
        extra={"id_scope": account},
    )


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return None


MT940 = register(Mt940Format())
