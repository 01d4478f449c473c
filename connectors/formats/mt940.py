"""SWIFT MT940 statements and MT942 interim reports, read with the ``mt940`` library.

The library does the tag grammar (several statements per file, one per ``:20:``; balances
``:60F:``/``:60M:``, ``:62F:``/``:62M:``; structured ``:86:`` subfields); this module maps its
output to ``PaymentRecord``s and ``StatementSummary``s and adds what a payment gateway needs
that the library leaves to its caller:

- decoding: the connector's ``encoding``, else a BOM's, else strict UTF-8, else cp1251 or
  cp866 (``base.decode_text``); the library is fed a ``StringIO`` (given a ``str`` it would
  treat text naming a file as a path);
- bank quirks (SWIFT envelope blocks, blank lines, a structured ``:86:`` without its
  transaction code, a currency in ``:25:``) are named hooks in ``mt940_quirks``;
- money: the library's ``Amount`` holds a ``Decimal`` built from the ``:61:`` text with the
  comma turned into a point; that Decimal goes to ``parse_amount``, never through a float;
  decimals beyond the ban must be zeros;
- marks: ``C``/``D`` give the direction; ``RC`` (reversal of a credit: money leaves) is a
  debit with ``reversal``, ``RD`` a credit with ``reversal``;
- identity: the ``//`` bank reference is the external id (and ``account_servicer_ref``); the
  customer reference, unless ``NONREF``, is the ``end_to_end_id``; without a bank reference
  the id is derived (``base.derive_ids``); an entry without an entry date is booked on its
  value date;
- remittance: a structured ``:86:`` gives its purpose (``?20``-``?29``) as remittance, the
  payer's name (``?32``/``?33``) and account (``?31``); an unstructured one is joined line
  to line without a separator (banks wrap at 65 characters, mid-word);
- checks: every ``:61:`` line must become a transaction (the library silently merges a line
  without a transaction type code into the previous one). Balances: per statement the
  opening (final or intermediate) plus the movements must equal the closing, and a part of
  a multi-part statement must open with the previous part's closing; a disagreement is a
  ``StatementFinding`` (the entries stand), a refusal when the connector is strict.

MT942 (``:34F:`` floor limit, ``:13D:`` time, no ``:60F:``) is an intraday report: read as
information (its statement summary, no payment records).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import mt940
from mt940.models import Transactions

from connectors.formats import mt940_quirks
from connectors.formats.base import (
    DEFAULT_OPTIONS,
    FileReading,
    Format,
    FormatError,
    ReadOptions,
    decode_text,
    derive_ids,
    register,
)
from reconciliation.model import (
    Direction,
    PaymentRecord,
    StatementKind,
    StatementRefused,
    StatementSummary,
)
from reconciliation.money import MoneyError, parse_amount

# the library logs every tag it cannot read at length; the FormatError says it in one line
logging.getLogger("mt940").setLevel(logging.CRITICAL)

_OPTIONS = mt940.Options(
    applicant_iban=True,
    merge_keeps_values=True,
    reversal_sign=True,
    case_insensitive_marks=True,
    unbounded_details=True,
    strip_bom=True,
)
_TAG61 = re.compile(r"(?m)^:61:")
_MT942 = re.compile(r"(?m)^:(34F|13D):")
_BOOKED_OPENING = re.compile(r"(?m)^:60[FM]:")
_MARKS: dict[str, tuple[Direction, bool]] = {
    "C": ("credit", False),
    "D": ("debit", False),
    "RD": ("credit", True),
    "RC": ("debit", True),
}
_OPENING = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")
_TAGS = dict(zip(_OPENING + _CLOSING, ("60F", "60M", "60", "62F", "62M", "62"), strict=True))


def _head_text(head: bytes) -> str:
    return head.decode("latin-1")


class Mt940Format(Format):
    name = "mt940"
    kind = StatementKind.STATEMENT

    def detect(self, head: bytes) -> bool:
        text = _head_text(head)
        if re.search(r"(?m)^:20:", text) is None:
            return False
        if _MT942.search(text) and not _BOOKED_OPENING.search(text):
            return False  # an MT942 interim report
        return re.search(r"(?m)^:(25|60F|60M|61):", text) is not None

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return self.read(data).records

    def read(self, source: bytes | Path, options: ReadOptions = DEFAULT_OPTIONS) -> FileReading:
        data = source.read_bytes() if isinstance(source, Path) else source
        records, summaries = _read(data, options, self.kind)
        return FileReading(derive_ids(iter(records)), summaries)


class Mt942Format(Mt940Format):
    """MT942 interim transaction report: information, never booked money."""

    name = "mt942"
    kind = StatementKind.INTERIM

    def detect(self, head: bytes) -> bool:
        text = _head_text(head)
        return (
            re.search(r"(?m)^:20:", text) is not None
            and _MT942.search(text) is not None
            and not _BOOKED_OPENING.search(text)
        )


def _read(
    data: bytes, options: ReadOptions, kind: StatementKind
) -> tuple[list[PaymentRecord], list[StatementSummary]]:
    where = "MT942" if kind is StatementKind.INTERIM else "MT940"
    text = decode_text(data, where, options.encoding).replace("\r\n", "\n").replace("\r", "\n")
    quirks = mt940_quirks.resolve(options.quirks)
    for quirk in quirks:
        if quirk.text is not None:
            text = quirk.text(text)
    statements = _library_parse(text, quirks, where)
    if not statements:
        raise FormatError(f"{where}: no statement (:20:) found")
    expected = len(_TAG61.findall(text))
    found = sum(len(st) for st in statements)
    if expected != found:
        raise FormatError(
            f"{where}: {expected} :61: lines but {found} transactions were read "
            "(a :61: line without a transaction type code?)"
        )
    records: list[PaymentRecord] = []
    summaries: list[StatementSummary] = []
    for no, st in enumerate(statements, start=1):
        summary = StatementSummary(kind)
        recs = _statement(st, f"{where} statement {no}", summary)
        try:
            summary.check(summaries[-1] if summaries else None, strict=options.strict_balances)
        except StatementRefused as exc:
            raise FormatError(str(exc)) from None
        summaries.append(summary)
        if kind is StatementKind.STATEMENT:
            records.extend(recs)
    return records, summaries


def _library_parse(text: str, quirks: list[mt940_quirks.Quirk], where: str) -> list[Transactions]:
    processors = mt940_quirks.processors_of(quirks, Transactions.DEFAULT_PROCESSORS)
    try:
        return mt940.parse_statements(io.StringIO(text), processors=processors, options=_OPTIONS)
    except FormatError:
        raise
    except Exception as exc:  # the library signals bad input with assorted exception types
        raise FormatError(f"{where}{_locate(text, processors)}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """One line from the library's exception: the tag and the text it could not read."""
    args = exc.args
    if len(args) == 3 and hasattr(args[1], "id") and isinstance(args[2], str):
        return f"cannot read :{args[1].id}: {args[2][:60]!r}"
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return reason[:200]


def _locate(text: str, processors: dict) -> str:
    """Which statement of the file the library failed on (" statement N (:20: REF)")."""
    blocks = [b for b in re.split(r"(?m)^(?=:20:)", text) if b.strip().startswith(":20:")]
    for no, block in enumerate(blocks, start=1):
        try:
            mt940.parse_statements(io.StringIO(block), processors=processors, options=_OPTIONS)
        except Exception:
            ref = block.split("\n", 1)[0][4:].strip()[:35]
            return f" statement {no} (:20: {ref})"
    return ""


def _statement(st: Transactions, where: str, summary: StatementSummary) -> list[PaymentRecord]:
    """The statement's records; its summary (ids, balances, booked sums) filled in."""
    d = st.data
    account = str(d.get("account_identification") or "").strip()
    currency = st.currency or d.get("account_currency") or "MDL"
    summary.statement_id = _clean(d.get("transaction_reference"))
    number, seq = _clean(d.get("statement_number")), _clean(d.get("sequence_number"))
    summary.sequence = f"{number}/{seq}" if number and seq else number
    summary.account_iban = account or None
    summary.currency = currency
    opening = _balance(d, _OPENING, where)
    closing = _balance(d, _CLOSING, where)
    summary.opening_balance, summary.from_date = opening
    summary.closing_balance, summary.to_date = closing
    records = []
    for i, tx in enumerate(st, start=1):
        record = _record(tx.data, f"{where} transaction {i}", currency, account)
        summary.book(record.amount, record.direction, record.booking_date)
        records.append(record)
    return records


def _balance(
    data: dict[str, Any], keys: tuple[str, ...], where: str
) -> tuple[int | None, date | None]:
    for key in keys:
        bal = data.get(key)
        amount = getattr(getattr(bal, "amount", None), "amount", None)
        if isinstance(amount, Decimal):
            day = _as_date(getattr(bal, "date", None))
            return _bani(amount, f"{where} balance {_TAGS[key]}", signed=True), day
    return None, None


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
MT942 = register(Mt942Format())
