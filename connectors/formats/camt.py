"""Streaming reader shared by camt.052 (reports), camt.053 (statements) and camt.054
(notifications), every version from 001.02 to 001.13 (schemas/formats/bank_files.md).

All versions are read by one code path, by local name under the document's namespace
(``camt_index``): the elements that matter have the same paths, and the few differences
(``<Sts>BOOK</Sts>`` vs ``<Sts><Cd>BOOK</Cd></Sts>``, ``Dbtr/Nm`` vs ``Dbtr/Pty/Nm``, the
transaction amount in ``TxDtls/Amt`` vs ``TxDtls/AmtDtls/TxAmt/Amt``) are looked up in both.

Safety and size: lxml ``iterparse`` runs with entities unresolved, no network, no DTD loading
and without ``huge_tree``; a document that declares a DOCTYPE is refused before its body is
read (billion laughs, external entities). Each ``Ntry`` is turned into records when its end
tag arrives and then cleared, together with the siblings before it, so a 100,000-entry
statement parses in memory bounded by one entry (plus the input bytes themselves).

What becomes a record:

- only booked entries (``BOOK``) by default: pending (``PDNG``) and informational entries are
  not money yet; ``CamtDocument.records(include_pending=True)`` yields them too, with
  ``extra["status"]`` saying which; a camt.052 report's entries are information unless the
  connector sets ``intraday_booked``;
- an entry with several ``TxDtls`` (or with ``Btch`` and details carrying amounts) is a
  batch: one record per ``TxDtls``, ``batch_ref`` = the entry's ``NtryRef`` (else its
  ``AcctSvcrRef``); details that do not add up to the entry make it one record of the
  entry's amount and a ``batch_mismatch`` finding (the entry is the truth);
- an entry without ``TxDtls`` (a collector's lump sum; remittance = ``AddtlNtryInf``), or
  with one ``TxDtls`` and no ``Btch``, or one ``TxDtls`` without an amount, is one record of
  the entry's amount; a lump sum with ``Btch`` gets ``batch_ref`` too;
- ``direction`` is the booked movement (``CdtDbtInd``); ``reversal`` is ``RvslInd``;
- ``external_id`` is the transaction's ``AcctSvcrRef`` (for a single entry, the entry's),
  else a derived id (``base.derive_ids``).

Balances: per statement block a ``StatementSummary`` carries the opening (``OPBD``, ``PRCD``,
or a later page's first ``ITBD``) and closing (``CLBD``, else the last ``ITBD``) balances and
the booked sums; opening + credits - debits != closing, or a page not opening with the
previous page's closing, is a finding (a ``FormatError`` when the connector is strict). Use
``statement_info(data)`` or ``CamtDocument(...).statements`` (filled as the document is read).

Longer than the ~450-line modules on purpose: one streaming reader for three messages and
twelve versions; splitting it would scatter the one code path the paragraph above describes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from lxml import etree

from connectors.formats.base import (
    DEFAULT_OPTIONS,
    FileReading,
    Format,
    FormatError,
    ReadOptions,
    amount_or_error,
    derive_ids,
    xml_head,
)
from connectors.formats.camt_index import first, index, text_of, trie
from reconciliation.model import (
    Direction,
    PaymentRecord,
    StatementFinding,
    StatementFindingKind,
    StatementKind,
    StatementRefused,
    StatementSummary,
)
from reconciliation.money import format_amount
from reconciliation.references import normalize_rf

#: Every published version from 001.02 to 001.13: the paths read are the same in all of them.
SUPPORTED_VERSIONS = tuple(f"001.{n:02d}" for n in range(2, 14))
_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.(05[234])\.([0-9]{3}\.[0-9]{2})")
#: kind -> (document element, statement block element, what such a block is)
_ROOTS = {
    "052": ("BkToCstmrAcctRpt", "Rpt", StatementKind.REPORT),
    "053": ("BkToCstmrStmt", "Stmt", StatementKind.STATEMENT),
    "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn", StatementKind.NOTIFICATION),
}
_DATE_RE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?\s*", re.ASCII)
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)
#: Interim booked: a page of a multi-page statement opens and closes with it.
_INTERIM = "ITBD"


def _sniff(source: bytes | Path) -> tuple[str, str]:
    """(kind, version) from the root element, refusing DOCTYPEs before the body is read."""
    parser_args = _parser_args()
    try:
        for _, el in etree.iterparse(_open(source), events=("start",), **parser_args):
            if el.getroottree().docinfo.doctype:
                raise FormatError("XML with a DOCTYPE declaration is refused (entities, DTDs)")
            ns = el.tag[1:].partition("}")[0] if el.tag.startswith("{") else ""
            break
        else:
            raise FormatError("empty XML document")
    except etree.LxmlError as exc:
        raise FormatError(f"not well-formed XML: {_xml_reason(exc)}") from None
    m = _NS_RE.fullmatch(ns)
    if not m:
        raise FormatError(f"not a camt.052/053/054 document (root namespace {ns!r})")
    if m.group(2) not in SUPPORTED_VERSIONS:
        raise FormatError(
            f"camt.{m.group(1)}.{m.group(2)} is not supported "
            f"(supported: {', '.join(SUPPORTED_VERSIONS)})"
        )
    return m.group(1), m.group(2)


def _parser_args() -> dict[str, Any]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def _xml_reason(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    msg = str(getattr(exc, "msg", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"line {line}: {msg}" if line else msg


def _open(source: bytes | Path) -> Any:
    """What iterparse reads: the bytes, or the file itself, streamed from disk by libxml2."""
    return io.BytesIO(source) if isinstance(source, bytes) else str(source)


class CamtDocument:
    """One camt document, read lazily; ``statements`` fills in as ``records`` is consumed.

    ``data`` is the file's bytes, or the path of a stored file (read as it is parsed, so a
    100,000-entry statement is never held whole in memory).
    """

    def __init__(
        self,
        data: bytes | Path,
        expect_kind: str | None = None,
        options: ReadOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.data = data
        self.options = options
        self.kind, self.version = _sniff(data)
        if expect_kind and self.kind != expect_kind:
            raise FormatError(f"expected camt.{expect_kind}, got camt.{self.kind}.{self.version}")
        self.source_format = f"camt{self.kind}"
        self.block_kind = _ROOTS[self.kind][2]
        self.statements: list[StatementSummary] = []
        self._ns = f"urn:iso:std:iso:20022:tech:xsd:camt.{self.kind}.{self.version}"
        self._wanted = trie(self._ns)
        self._balances: list[tuple[str, int]] = []  # (code, signed bani) of the current block
        # a camt.052 report is intraday information: its entries are not money yet
        self._information = self.kind == "052" and not options.intraday_booked

    def reading(self) -> FileReading:
        """Records and statement summaries (complete once the records are consumed)."""
        return FileReading(self.records(), self.statements)

    def records(self, *, include_pending: bool = False) -> Iterator[PaymentRecord]:
        """Every record, in file order; see the module docstring for what counts."""
        return derive_ids(self._raw_records(include_pending))

    def _raw_records(self, include_pending: bool) -> Iterator[PaymentRecord]:
        ns = self._ns
        block = _ROOTS[self.kind][1]
        tags = [f"{{{ns}}}{name}" for name in (block, "Bal", "Ntry")]
        events = etree.iterparse(
            _open(self.data), events=("start", "end"), tag=tags, **_parser_args()
        )
        entry_no = 0
        info = StatementSummary(self.block_kind)
        try:
            for event, el in events:
                local = el.tag.rpartition("}")[2]
                if local == block:
                    if event == "start":
                        info = StatementSummary(self.block_kind)
                        self.statements.append(info)
                        self._balances = []
                    else:
                        self._capture_header(el, info)
                        self._close_block(info)
                        _release(el)
                    continue
                if event == "start":
                    continue
                self._capture_header(el.getparent(), info)
                if local == "Bal":
                    self._balance(el, info)
                else:
                    entry_no += 1
                    yield from self._entry(el, info, entry_no, include_pending)
                _release(el)
        except etree.LxmlError as exc:
            raise FormatError(f"not well-formed XML: {_xml_reason(exc)}") from None
        if not self.statements:
            raise FormatError(f"camt.{self.kind} document without any {block} block")

    def _capture_header(self, parent: Any, info: StatementSummary) -> None:
        """Statement id, account, currency, sequence and period, read before the siblings
        are released."""
        if info.statement_id is not None or parent is None:
            return
        idx = index(parent, self._wanted)
        info.statement_id = text_of(idx, "Id") or ""
        info.account_iban = text_of(idx, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        info.currency = text_of(idx, "Acct/Ccy")
        info.sequence = text_of(idx, "ElctrncSeqNb", "LglSeqNb")
        where = f"statement {info.statement_id} FrToDt"
        info.from_date = _date(text_of(idx, "FrToDt/FrDtTm"), where)
        info.to_date = _date(text_of(idx, "FrToDt/ToDtTm"), where)

    def _balance(self, el: Any, info: StatementSummary) -> None:
        idx = index(el, self._wanted)
        code = text_of(idx, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        if code not in (*_OPENING, *_CLOSING, _INTERIM):
            return
        where = f"statement {info.statement_id} balance {code}"
        bani = amount_or_error(text_of(idx, "Amt"), where)
        if _direction(text_of(idx, "CdtDbtInd"), where) == "debit":
            bani = -bani
        self._balances.append((code, bani))

    def _close_block(self, info: StatementSummary) -> None:
        """Opening and closing from the block's balances, then the balance check: a
        disagreement is a finding (the entries stand), a refusal when the connector is strict.

        A page of a multi-page statement opens and closes with interim balances (ITBD).
        """
        codes = self._balances
        opening = [b for c, b in codes if c in _OPENING]
        closing = [b for c, b in codes if c in _CLOSING]
        interim = [b for c, b in codes if c == _INTERIM]
        if not opening and interim and (closing or len(interim) >= 2):
            opening, interim = interim[:1], interim[1:]  # a later page opens with ITBD
        info.opening_balance = opening[0] if opening else None
        info.closing_balance = closing[-1] if closing else (interim[-1] if interim else None)
        before = self.statements[-2] if len(self.statements) > 1 else None
        try:
            info.check(before, strict=self.options.strict_balances)
        except StatementRefused as exc:
            raise FormatError(str(exc)) from None

    def _find(self, info: StatementSummary, finding: StatementFinding) -> None:
        if self.options.strict_balances:
            raise FormatError(finding.detail)
        info.findings.append(finding)

    def _entry(
        self, el: Any, info: StatementSummary, n: int, include_pending: bool
    ) -> Iterator[PaymentRecord]:
        idx = index(el, self._wanted)
        where = f"entry {n}"
        amt_el = first(idx, "Amt")
        amount = amount_or_error(amt_el.text if amt_el is not None else None, f"{where} Amt")
        direction = _direction(text_of(idx, "CdtDbtInd"), where)
        status = text_of(idx, "Sts/Cd", "Sts/Prtry", "Sts")
        if not status:
            raise FormatError(f"{where}: status (Sts) missing")
        booking_date = _date(text_of(idx, "BookgDt/Dt", "BookgDt/DtTm"), where)
        if status == "BOOK":
            info.book(amount, direction, booking_date)
            if self._information:
                return
        elif not include_pending:
            return
        svcr = text_of(idx, "AcctSvcrRef")
        base: dict[str, Any] = {
            "source_format": self.source_format,
            "currency": (amt_el.get("Ccy") or "").strip() or info.currency or "MDL",
            "booking_date": booking_date,
            "value_date": _date(text_of(idx, "ValDt/Dt", "ValDt/DtTm"), where),
            "reversal": _bool(text_of(idx, "RvslInd"), where),
            "extra": {
                "status": status,
                "entry": n,
                "statement_id": info.statement_id,
                "id_scope": info.account_iban or "",
            },
        }
        txs = idx.get("NtryDtls/TxDtls", [])  # each already an index of its own
        has_batch = "NtryDtls/Btch" in idx
        batch_ref = text_of(idx, "NtryRef") or svcr or f"{info.statement_id}:entry-{n}"
        if not txs:
            yield self._lump(idx, amount, direction, svcr, batch_ref if has_batch else None, base)
        elif len(txs) == 1 and (not has_batch or not _tx_amount_text(txs[0])):
            # one TxDtls: the entry's amount is the payment's (a detail may carry none)
            tx = self._tx_fields(txs[0])
            tx_svcr = tx.pop("account_servicer_ref")
            ref = svcr or tx_svcr
            yield PaymentRecord(
                external_id=ref or "",
                amount=amount,
                direction=direction,
                account_servicer_ref=ref,
                batch_ref=batch_ref if has_batch else None,
                **tx,
                **base,
            )
        else:
            details = self._batch(txs, direction, where)
            signed_sum = sum(d["amount"] if d["direction"] == direction else -d["amount"]
                             for d in details)  # fmt: skip
            if signed_sum == amount:
                for d in details:
                    d["account_servicer_ref"] = d["account_servicer_ref"] or svcr
                    yield PaymentRecord(batch_ref=batch_ref, **d, **base)
                return
            detail = (
                f"statement {info.statement_id} {where}: batch details add up to "
                f"{format_amount(signed_sum)}, entry amount is {format_amount(amount)}; "
                "the entry is taken as one payment of its amount"
            )
            self._find(
                info,
                StatementFinding(StatementFindingKind.BATCH_MISMATCH, signed_sum, amount, detail),
            )
            yield self._lump(idx, amount, direction, svcr, batch_ref, base)

    def _lump(
        self,
        idx: dict[str, list[Any]],
        amount: int,
        direction: Direction,
        svcr: str | None,
        batch_ref: str | None,
        base: dict[str, Any],
    ) -> PaymentRecord:
        """The entry as one payment: a collector's lump sum, or a batch taken whole."""
        return PaymentRecord(
            external_id=svcr or "",
            amount=amount,
            direction=direction,
            account_servicer_ref=svcr,
            remittance=text_of(idx, "AddtlNtryInf"),
            batch_ref=batch_ref,
            **base,
        )

    def _batch(
        self, txs: list[dict[str, list[Any]]], direction: str, where: str
    ) -> list[dict[str, Any]]:
        """The fields of one record per TxDtls (the entry's common fields come later)."""
        details = []
        for i, tx_idx in enumerate(txs, start=1):
            tx_where = f"{where} TxDtls {i}"
            tx = self._tx_fields(tx_idx)
            tx["amount"] = amount_or_error(_tx_amount_text(tx_idx), tx_where)
            tx["direction"] = _direction(text_of(tx_idx, "CdtDbtInd") or _IND[direction], tx_where)
            tx["external_id"] = tx["account_servicer_ref"] or ""
            details.append(tx)
        return details

    def _tx_fields(self, tx: dict[str, list[Any]]) -> dict[str, Any]:
        """References, parties and remittance of one TxDtls (its index)."""
        e2e = text_of(tx, "Refs/EndToEndId")
        if e2e and e2e.upper() == "NOTPROVIDED":
            e2e = None
        texts = [u.text.strip() for u in tx.get("RmtInf/Ustrd", ()) if u.text and u.text.strip()]
        payment_ref = None
        for ref_el in tx.get("RmtInf/Strd/CdtrRefInf/Ref", ()):
            ref = (ref_el.text or "").strip()
            rf = normalize_rf(ref) if ref else None
            if rf and payment_ref is None:
                payment_ref = rf
            elif ref:
                texts.append(ref)  # a non-RF reference is still evidence for the matcher
        return {
            "end_to_end_id": e2e,
            "account_servicer_ref": text_of(tx, "Refs/AcctSvcrRef"),
            "remittance": " ".join(texts) or None,
            "payment_ref": payment_ref,
            "debtor_name": text_of(tx, "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm"),
            "debtor_iban": text_of(tx, "RltdPties/DbtrAcct/Id/IBAN"),
        }


_IND = {"credit": "CRDT", "debit": "DBIT"}


def _tx_amount_text(tx: dict[str, list[Any]]) -> str | None:
    return text_of(tx, "Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")


def _release(el: Any) -> None:
    """Free a processed element and everything before it, keeping memory flat."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _direction(code: str | None, where: str) -> Direction:
    if code == "CRDT":
        return "credit"
    if code == "DBIT":
        return "debit"
    raise FormatError(f"{where}: CdtDbtInd must be CRDT or DBIT, got {code!r}")


def _bool(text: str | None, where: str) -> bool:
    if text is None or text in ("false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise FormatError(f"{where}: RvslInd must be true or false, got {text!r}")


def _date(text: str | None, where: str) -> date | None:
    if text is None:
        return None
    day = _day(text)
    if day is None:
        raise FormatError(f"{where}: bad date {text!r}")
    return day


@lru_cache(maxsize=4096)
def _day(text: str) -> date | None:
    """The date of an ISODate or ISODateTime text, None when it is not one. Cached: a
    statement's hundred thousand entries share a handful of dates (and date objects)."""
    m = _DATE_RE.fullmatch(text)
    try:
        return date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


def statement_info(data: bytes, options: ReadOptions = DEFAULT_OPTIONS) -> list[StatementSummary]:
    """Balances, totals and findings of every statement in a camt file (reads the whole file)."""
    doc = CamtDocument(data, options=options)
    for _ in doc.records():
        pass
    return doc.statements


class CamtFormat(Format):
    """One camt message kind as a registered format (``kind``: "052", "053" or "054")."""

    kind: ClassVar[str] = ""

    def detect(self, head: bytes) -> bool:
        text = xml_head(head)
        return text is not None and f"xsd:camt.{self.kind}.".encode() in text

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return CamtDocument(data, expect_kind=self.kind).records()

    def parse_file(self, path: Path) -> Iterator[PaymentRecord]:
        return CamtDocument(path, expect_kind=self.kind).records()

    def read(self, source: bytes | Path, options: ReadOptions = DEFAULT_OPTIONS) -> FileReading:
        return CamtDocument(source, expect_kind=self.kind, options=options).reading()
