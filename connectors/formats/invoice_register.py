"""The monthly invoice register: five CSV files read and validated into memory, nothing else.

Contract (DESIGN.md): providers.csv (provider_code, name, iban), services.csv (service_code,
name), managers.csv (manager_code, name), accounts.csv (account_no, manager_code, payer_name,
address, status), invoices.csv (invoice_no, account_no, period, issued_on, due_on, payment_ref,
service_code, provider_code, amount_due), one row per invoice line; UTF-8, comma, header row,
amounts as "1234.50" (exactly two decimals; negative for credit carried).

The whole register is checked before the importer touches the database, and the first problem
refuses it with a ``RegisterError`` naming the file, the line and the reason, because an
accountant has to find the bad row in a 300,000-invoice export. Validation is a tight loop:
values that repeat (amounts, dates, codes) are checked once and cached, so the cost per line
stays close to that of reading the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any

from connectors.formats.base import FormatError
from reconciliation.money import MoneyError, parse_amount
from reconciliation.references import is_valid_account_no

FILES = ("providers.csv", "services.csv", "managers.csv", "accounts.csv", "invoices.csv")
COLUMNS: dict[str, tuple[str, ...]] = {
    "providers.csv": ("provider_code", "name", "iban"),
    "services.csv": ("service_code", "name"),
    "managers.csv": ("manager_code", "name"),
    "accounts.csv": ("account_no", "manager_code", "payer_name", "address", "status"),
    "invoices.csv": (
        "invoice_no",
        "account_no",
        "period",
        "issued_on",
        "due_on",
        "payment_ref",
        "service_code",
        "provider_code",
        "amount_due",
    ),
}
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
_INVOICE_NO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,31}")
_PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_AMOUNT_RE = re.compile(r"-?[0-9]{1,13}\.[0-9]{2}")  # the contract's form; money checks the value


Check = Callable[[tuple[str, ...], str, int], None]  # (row, file, line) -> raises if bad


class RegisterError(FormatError):
    """A register refused as a whole: which file, which line (1 = header), and why.

    A ``FormatError`` (so a ``ValueError``) like every refusal of a format module: formats
    import nothing from the gateway, whose CLI prints the message as its one line.
    """

    def __init__(self, file: str, line: int, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"invoice register refused: {where}: {reason}")


class InvoiceRow:
    """One invoice with its lines as read; ``line`` is where it first appears."""

    __slots__ = (
        "account_no",
        "due_on",
        "invoice_no",
        "issued_on",
        "line",
        "lines",
        "payment_ref",
        "period",
        "raw",
    )

    def __init__(self, raw: tuple[str, ...], line: int, issued: date, due: date) -> None:
        self.invoice_no, self.account_no, self.period, _, _, self.payment_ref = raw
        self.issued_on, self.due_on = issued, due
        self.raw = raw
        self.line = line
        self.lines: list[tuple[str, str, int]] = []  # service_code, provider_code, bani


@dataclass
class Register:
    """The validated register. Lists keep file order; ``invoices`` is keyed by invoice_no."""

    providers: list[tuple[str, str, str]] = field(default_factory=list)
    services: list[tuple[str, str]] = field(default_factory=list)
    managers: list[tuple[str, str]] = field(default_factory=list)
    accounts: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    invoices: dict[str, InvoiceRow] = field(default_factory=dict)
    line_count: int = 0

    @property
    def periods(self) -> tuple[str, ...]:
        return tuple(sorted({inv.period for inv in self.invoices.values()}))


def read_register(folder: Path, progress: Callable[[int], None] | None = None) -> Register:
    """Read and validate the five files of ``folder``; ``RegisterError`` on the first problem.

    ``progress(bytes read so far, all files)`` is called as the files are read (a progress
    bar); without it the files are read directly. A bulk caller pauses the cyclic garbage
    collector around this (the import does: ``gateway.gcpause``): two million small tuples
    would trigger dozens of full collections that can find nothing to free.
    """
    return _read_all(Path(folder), _Meter(progress))


def _read_all(folder: Path, meter: _Meter) -> Register:
    reg = Register()
    reg.providers = _read_simple(folder, "providers.csv", _provider, meter)
    reg.services = _read_simple(folder, "services.csv", _named, meter)
    reg.managers = _read_simple(folder, "managers.csv", _named, meter)
    managers = {m[0] for m in reg.managers}
    reg.accounts = _read_simple(
        folder, "accounts.csv", lambda r, f, n: _account(r, f, n, managers), meter
    )
    _read_invoices(folder, reg, meter)
    return reg


class _Meter:
    """Opens the register's files; with a ``progress`` callback, counts the bytes read."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.done = 0  # bytes of the files already read to the end

    def open(self, path: Path) -> io.TextIOBase:
        if self.progress is None:
            return path.open(encoding="utf-8-sig", newline="")
        raw = _CountingReader(path.open("rb"), self)
        return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")


class _CountingReader(io.RawIOBase):
    """A raw file that reports each chunk read (8 KB at a time, so the cost is nothing)."""

    def __init__(self, fh: io.BufferedReader, meter: _Meter) -> None:
        self.fh, self.meter, self.read_here = fh, meter, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.fh.readinto(buffer)
        self.read_here += n
        assert self.meter.progress is not None
        self.meter.progress(self.meter.done + self.read_here)
        return n

    def close(self) -> None:
        if not self.closed:
            self.meter.done += self.read_here
            self.fh.close()
        super().close()


def _rows(
    folder: Path, name: str, meter: _Meter, fast: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a file's data rows, in the contract's column order.

    ``fast`` (invoices.csv, two million lines) splits lines with ``str.split``, several times
    faster than the csv module; a line with a quote still goes through csv, so RFC 4180
    quoting works, but a quoted field may not span lines there.
    """
    path = folder / name
    if not path.is_file():
        raise RegisterError(name, 0, "file missing")
    wanted = COLUMNS[name]
    try:
        with meter.open(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise RegisterError(name, 1, "empty file (no header row)")
            header = [h.strip() for h in header]
            missing = [c for c in wanted if c not in header]
            if missing:
                raise RegisterError(name, 1, f"missing column(s): {', '.join(missing)}")
            order = [header.index(c) for c in wanted]
            pick = None if order == list(range(len(wanted))) else itemgetter(*order)
            width = len(header)
            # str lines when fast, csv rows otherwise (one type check per line would cost)
            lines: Iterator[tuple[int, Any]] = enumerate(fh, start=2) if fast else _numbered(reader)
            for lineno, line in lines:
                if fast:
                    row = line.rstrip("\r\n").split(",") if '"' not in line else _csv_line(line)
                else:
                    row = line
                if len(row) != width:
                    if row == [""]:
                        continue
                    raise RegisterError(name, lineno, f"{len(row)} fields, header has {width}")
                yield lineno, (pick(row) if pick else row[: len(wanted)])
    except UnicodeDecodeError as exc:
        raise RegisterError(name, 0, f"not UTF-8 (byte {exc.start} of a chunk)") from None
    except csv.Error as exc:
        raise RegisterError(name, 0, f"malformed CSV: {exc}") from None


def _numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Rows of a csv reader with the physical line each ends on (quoted fields may span)."""
    for row in reader:
        yield reader.line_num, row


def _csv_line(line: str) -> list[str]:
    """One physical line through the csv module (fields in a register never span lines)."""
    rows = list(csv.reader([line], strict=True))
    return rows[0] if rows else [""]


def _read_simple(folder: Path, name: str, check: Check, meter: _Meter) -> list[Any]:
    """Rows of a small file, each checked by ``check(row, file, line)``; codes must be unique."""
    out = []
    seen: dict[str, int] = {}
    for lineno, fields in _rows(folder, name, meter):
        row = tuple(v.strip() for v in fields)
        if row[0] in seen:
            raise RegisterError(
                name, lineno, f"duplicate {row[0]!r} (first on line {seen[row[0]]})"
            )
        seen[row[0]] = lineno
        check(row, name, lineno)
        out.append(row)
    return out


def _named(row: tuple[str, ...], file: str, line: int) -> None:
    if not _CODE_RE.fullmatch(row[0]):
        raise RegisterError(file, line, f"bad code {row[0]!r}")
    if not row[1]:
        raise RegisterError(file, line, "name is empty")


def _provider(row: tuple[str, ...], file: str, line: int) -> None:
    _named(row, file, line)
    if not _IBAN_RE.fullmatch(row[2]):
        raise RegisterError(file, line, f"bad IBAN {row[2]!r}")


def _account(row: tuple[str, ...], file: str, line: int, managers: set[str]) -> None:
    account_no, manager, payer, address, status = row
    if not is_valid_account_no(account_no):
        raise RegisterError(file, line, f"bad account number {account_no!r} (8 digits, Damm)")
    if manager not in managers:
        raise RegisterError(file, line, f"unknown manager {manager!r}")
    if not payer or not address:
        raise RegisterError(file, line, "payer_name and address must not be empty")
    if status not in ("open", "closed"):
        raise RegisterError(file, line, f"status must be open or closed, not {status!r}")


_RF_RE = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}")
_RF_DIGITS = str.maketrans({ch: str(ord(ch) - 55) for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def rf_is_valid(ref: str) -> bool:
    """True for a canonical ISO 11649 reference (what ``normalize_rf`` would return as is).

    Same rule as ``reconciliation.references.normalize_rf`` (mod 97 == 1 after moving the
    first four characters to the end), computed with one ``str.translate`` instead of a
    Python loop per character: it runs once per invoice, 330,000 times per register.
    """
    if not _RF_RE.fullmatch(ref):
        return False
    return int((ref[4:] + ref[:4]).translate(_RF_DIGITS)) % 97 == 1


class _InvoiceChecker:
    """Checks the header fields of each new invoice; values seen once are cached."""

    def __init__(self, accounts: set[str]) -> None:
        self.accounts = accounts
        self.dates: dict[str, date] = {}
        self.periods: set[str] = set()

    def new(self, raw: tuple[str, ...], line: int) -> InvoiceRow:
        invoice_no, account_no, period, issued, due, ref = raw
        where = ("invoices.csv", line)
        if not _INVOICE_NO_RE.fullmatch(invoice_no):
            raise RegisterError(*where, f"bad invoice_no {invoice_no!r}")
        if account_no not in self.accounts:
            raise RegisterError(*where, f"unknown account {account_no!r}")
        if period not in self.periods:
            if not _PERIOD_RE.fullmatch(period):
                raise RegisterError(*where, f"bad period {period!r} (expected YYYY-MM)")
            self.periods.add(period)
        issued_on, due_on = self.date(issued, "issued_on", line), self.date(due, "due_on", line)
        if due_on < issued_on:
            raise RegisterError(*where, f"due_on {due} is before issued_on {issued}")
        if not rf_is_valid(ref):
            raise RegisterError(*where, f"bad payment_ref {ref!r} (ISO 11649 RF reference)")
        return InvoiceRow(raw, line, issued_on, due_on)

    def date(self, text: str, column: str, line: int) -> date:
        value = self.dates.get(text)
        if value is None:
            try:
                if len(text) != 10:
                    raise ValueError
                value = date.fromisoformat(text)
            except ValueError:
                raise RegisterError(
                    "invoices.csv", line, f"bad {column} {text!r} (expected YYYY-MM-DD)"
                ) from None
            self.dates[text] = value
        return value


def _amount(text: str, line: int) -> int:
    """Bani of an amount_due in the contract's form; negative means credit carried."""
    if not _AMOUNT_RE.fullmatch(text):
        raise RegisterError("invoices.csv", line, f"malformed amount {text!r} (expected 1234.50)")
    try:
        return parse_amount(text, allow_negative=True)
    except MoneyError as exc:
        raise RegisterError("invoices.csv", line, str(exc)) from None


def _read_invoices(folder: Path, reg: Register, meter: _Meter) -> None:
    """One pass over invoices.csv: lines of the contract's exact header go straight to
    ``_group``; any other header goes through the general reader, re-encoded as lines."""
    name = "invoices.csv"
    canonical = ",".join(COLUMNS[name])
    try:
        with meter.open(folder / name) as fh:
            if fh.readline().rstrip("\r\n") == canonical:
                reg.line_count = _group(enumerate(fh, start=2), reg)
                return
    except FileNotFoundError:
        pass  # _rows names the missing file
    except UnicodeDecodeError as exc:
        raise RegisterError(name, 0, f"not UTF-8 (byte {exc.start} of a chunk)") from None
    except csv.Error as exc:
        raise RegisterError(name, 0, f"malformed CSV: {exc}") from None
    reg.line_count = _group(_canonical_lines(folder, name, meter), reg)


def _canonical_lines(folder: Path, name: str, meter: _Meter) -> Iterator[tuple[int, str]]:
    """(line, text) of a register whose header differs from the contract's exact one.

    Rare (columns reordered or padded), so each row is simply written back as one CSV line
    in the contract's column order; ``_group`` then reads a single form.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for lineno, row in _rows(folder, name, meter, fast=True):
        buf.seek(0)
        buf.truncate()
        writer.writerow(row)
        yield lineno, buf.getvalue()


def _group(numbered: Iterable[tuple[int, str]], reg: Register) -> int:
    """The hot loop: check each line and append it to its invoice; returns the line count.

    Deliberately one loop with no generator or call per line (1.8 M lines at seed scale):
    a line without quotes is cut with one ``rsplit`` and the amount keeps its line ending,
    because it is only a cache key (an amount is parsed once per distinct text). The prefix
    (first six fields) is shared by consecutive lines of one invoice, so one string
    comparison replaces six field checks; a validated prefix has exactly five commas, so no
    field of an equal prefix can hide a comma. Checks run in file order, so the first
    problem reported is the first in the file.
    """
    name = "invoices.csv"
    services = {s[0] for s in reg.services}
    providers = {p[0] for p in reg.providers}
    checker = _InvoiceChecker({a[0] for a in reg.accounts})
    invoices = reg.invoices
    amounts: dict[str, int] = {}
    count = 0
    last = None
    lines: list[tuple[str, str, int]] = []
    invoice_no = ""
    for lineno, line in numbered:
        if '"' in line:
            prefix, service, provider, text = _quoted(line, lineno)
        else:
            parts = line.rsplit(",", 3)
            if len(parts) != 4:
                if not line.rstrip("\r\n"):
                    continue
                raise RegisterError(name, lineno, f"{len(parts)} fields, header has 9")
            prefix, service, provider, text = parts
        if prefix != last:
            lines, invoice_no = _invoice_for(prefix, lineno, invoices, checker)
            last = prefix
        if service not in services:
            raise RegisterError(name, lineno, f"unknown service {service!r}")
        if provider not in providers:
            raise RegisterError(name, lineno, f"unknown provider {provider!r}")
        bani = amounts.get(text)
        if bani is None:
            bani = amounts[text] = _amount(text.rstrip("\r\n"), lineno)
        for s, p, _ in lines:
            if s == service and p == provider:
                raise RegisterError(
                    name, lineno, f"duplicate line {service}/{provider} on invoice {invoice_no}"
                )
        lines.append((service, provider, bani))
        count += 1
    return count


def _quoted(line: str, lineno: int) -> tuple[str, str, str, str]:
    """(prefix, service, provider, amount) of a line with quotes, through the csv module."""
    row = _csv_line(line)
    if len(row) != 9:
        raise RegisterError("invoices.csv", lineno, f"{len(row)} fields, header has 9")
    return ",".join(row[:6]), row[6], row[7], row[8]


def _invoice_for(
    prefix: str, lineno: int, invoices: dict[str, InvoiceRow], checker: _InvoiceChecker
) -> tuple[list[tuple[str, str, int]], str]:
    """The invoice a line with a new header prefix belongs to (new, or seen further up)."""
    head = tuple(prefix.split(","))
    if len(head) != 6:
        raise RegisterError("invoices.csv", lineno, f"{len(head) + 3} fields, header has 9")
    inv = invoices.get(head[0])
    if inv is None:
        inv = invoices[head[0]] = checker.new(head, lineno)
    elif inv.raw != head:
        raise RegisterError(
            "invoices.csv",
            lineno,
            f"invoice {head[0]} differs from its line {inv.line} "
            "(account, period, dates or payment_ref)",
        )
    return inv.lines, head[0]
