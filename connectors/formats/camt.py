"""Streaming reader shared by camt.053 (statements) and camt.054 (notifications).

Versions 001.02, 001.04 and 001.08 are read by one code path: the element names that matter
are the same, and the few differences (``<Sts>BOOK</Sts>`` vs ``<Sts><Cd>BOOK</Cd></Sts>``,
``Dbtr/Nm`` vs ``Dbtr/Pty/Nm``, the transaction amount in ``TxDtls/Amt`` vs
``TxDtls/AmtDtls/TxAmt/Amt``) are looked up in both places.

Safety and size: lxml ``iterparse`` runs with entities unresolved, no network, no DTD loading
and without ``huge_tree``; a document that declares a DOCTYPE is refused before its body is
read (billion laughs, external entities). Each ``Ntry`` is turned into records when its end
tag arrives and then cleared, together with the siblings before it, so a 100,000-entry
statement parses in memory bounded by one entry (plus the input bytes themselves).

What becomes a record:

- only booked entries (``BOOK``) by default: pending (``PDNG``) and informational entries are
  not money yet; ``CamtDocument.records(include_pending=True)`` yields them too, with
  ``extra["status"]`` saying which;
- an entry with several ``TxDtls`` (or with ``Btch`` and any ``TxDtls``) is a batch: one record
  per ``TxDtls``, ``batch_ref`` = the entry's ``NtryRef`` (else its ``AcctSvcrRef``), and the
  details must add up to the entry amount;
- an entry without ``TxDtls`` (a collector's lump sum) or with one ``TxDtls`` and no ``Btch``
  is one record; a lump sum with ``Btch`` gets ``batch_ref`` too;
- ``direction`` is the booked movement (``CdtDbtInd``); ``reversal`` is ``RvslInd``;
- ``external_id`` is the transaction's ``AcctSvcrRef`` (for a single entry, the entry's),
  else a derived id (``base.derive_ids``).

Balances: per statement, ``StatementInfo`` carries the opening (``OPBD``, or ``PRCD``) and
closing (``CLBD``) balances and the booked totals; when both balances are present the reader
checks opening + booked credits - booked debits = closing and raises ``FormatError``
otherwise. Use ``statement_info(data)`` or ``CamtDocument(...).statements`` (filled as the
document is read) to see them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from connectors.formats.base import FormatError, amount_or_error, derive_ids
from reconciliation.model import PaymentRecord
from reconciliation.money import format_amount
from reconciliation.references import normalize_rf

SUPPORTED_VERSIONS = ("001.02", "001.04", "001.08")
_NS_RE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(05[34])\.(\d{3}\.\d{2})$")
_ROOTS = {"053": ("BkToCstmrStmt", "Stmt"), "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
_DATE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?\s*$")
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)


@dataclass
class StatementInfo:
    """What one ``Stmt`` / ``Ntfctn`` block says about itself; balances are signed bani."""

    kind: str  # "053" or "054"
    version: str  # "001.02", ...
    statement_id: str | None = None
    account_iban: str | None = None
    currency: str | None = None
    opening_balance: int | None = None
    closing_balance: int | None = None
    booked_credits: int = 0
    booked_debits: int = 0
    booked_entries: int = 0
    pending_entries: int = 0

    def check_balance(self) -> None:
        """Opening + booked credits - booked debits must equal closing, when both are given."""
        if self.opening_balance is None or self.closing_balance is None:
            return
        computed = self.opening_balance + self.booked_credits - self.booked_debits
        if computed != self.closing_balance:
            raise FormatError(
                f"statement {self.statement_id}: balances do not agree: opening "
                f"{format_amount(self.opening_balance)} + credits "
                f"{format_amount(self.booked_credits)} - debits "
                f"{format_amount(self.booked_debits)} = {format_amount(computed)}, "
                f"but closing is {format_amount(self.closing_balance)}"
            )


#: Every path (relative to a statement block, a balance, an entry or a transaction) that the
#: reader asks for. The per-element index visits only these, skipping whole subtrees that
#: carry nothing we read (bank transaction codes, creditor parties, related dates, ...).
_PATHS = (
    # statement block
    "Id", "Acct/Id/IBAN", "Acct/Id/Othr/Id", "Acct/Ccy",
    # balance
    "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry", "Amt", "CdtDbtInd",
    # entry
    "Sts", "Sts/Cd", "Sts/Prtry", "AcctSvcrRef", "NtryRef", "AddtlNtryInf", "RvslInd",
    "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm", "NtryDtls/Btch", "NtryDtls/TxDtls",
    # transaction details (indexed on their own: "NtryDtls/TxDtls" is not descended into)
    "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt", "Refs/EndToEndId", "Refs/AcctSvcrRef",
    "RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref", "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm",
    "RltdPties/DbtrAcct/Id/IBAN",
)  # fmt: skip

#: Subtrees an index does not descend into: the statement's blocks are indexed on their own
#: when their end tag arrives, and each TxDtls gets an index of its own (a batch has many).
_OWN_INDEX = frozenset({"TxDtls", "Ntry", "Bal"})


@dataclass(frozen=True, slots=True)
class _Step:
    """One wanted element name below a trie node: its path and what is wanted below it."""

    path: str  # local-name path from the indexed element, e.g. "Refs/EndToEndId"
    below: dict[str, _Step]  # keyed by Clark name ("{ns}Name"), as lxml reports tags
    own_index: bool  # a TxDtls: indexed on its own, as a dict like _index's


@lru_cache(maxsize=16)
def _trie(ns: str) -> dict[str, _Step]:
    """``_PATHS`` as nested steps keyed by the document's own Clark names, so that the walk
    compares ``node.tag`` as lxml gives it, with no namespace stripping or path building."""
    root: dict[str, _Step] = {}
    for path in _PATHS:
        level, so_far = root, ""
        for name in path.split("/"):
            so_far = f"{so_far}/{name}" if so_far else name
            key = f"{{{ns}}}{name}"
            step = level.get(key)
            if step is None:
                step = level[key] = _Step(so_far, {}, name in _OWN_INDEX)
            if step.own_index:
                break
            level = step.below
    return root


def _index(el: Any, root: dict[str, _Step]) -> dict[str, list[Any]]:
    """The descendants of ``el`` on a wanted path, by their local-name path ("Refs/EndToEndId").

    One walk per element instead of an ElementPath search per field (lxml's ``find`` costs
    several microseconds a call, and an entry is asked for some twenty fields); the walk
    follows the paths the reader asks for (``root``: the document's ``_trie``), so no other
    element is ever visited. A TxDtls is
    listed as its own index (a dict like this one), built in the same walk.
    """
    out: dict[str, list[Any]] = {}
    _collect(el, root, root, out)
    return out


def _collect(
    el: Any, wanted: dict[str, _Step], root: dict[str, _Step], out: dict[str, list[Any]]
) -> None:
    for node in el:
        step = wanted.get(node.tag)  # comments and PIs have non-string tags: never wanted
        if step is None:
            continue
        if step.own_index:
            sub: dict[str, list[Any]] = {}
            _collect(node, root, root, sub)
            node = sub
        elif step.below:
            _collect(node, step.below, root, out)
        found = out.get(step.path)
        if found is None:
            out[step.path] = [node]
        else:
            found.append(node)


def _text(idx: dict[str, list[Any]], *paths: str) -> str | None:
    """Stripped text of the first of ``paths`` that exists and is non-empty."""
    for path in paths:
        for found in idx.get(path, ()):
            text = found.text
            if text and (text := text.strip()):
                return text
    return None


def _first(idx: dict[str, list[Any]], path: str) -> Any:
    found = idx.get(path)
    return found[0] if found else None


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
    m = _NS_RE.match(ns)
    if not m:
        raise FormatError(f"not a camt.053/054 document (root namespace {ns!r})")
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

    def __init__(self, data: bytes | Path, expect_kind: str | None = None) -> None:
        self.data = data
        self.kind, self.version = _sniff(data)
        if expect_kind and self.kind != expect_kind:
            raise FormatError(f"expected camt.{expect_kind}, got camt.{self.kind}.{self.version}")
        self.source_format = f"camt{self.kind}"
        self.statements: list[StatementInfo] = []
        self._ns = f"urn:iso:std:iso:20022:tech:xsd:camt.{self.kind}.{self.version}"
        self._wanted = _trie(self._ns)

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
        info = StatementInfo(self.kind, self.version)
        try:
            for event, el in events:
                local = el.tag.rpartition("}")[2]
                if local == block:
                    if event == "start":
                        info = StatementInfo(self.kind, self.version)
                        self.statements.append(info)
                    else:
                        self._capture_header(el, info)
                        info.check_balance()
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

    def _capture_header(self, parent: Any, info: StatementInfo) -> None:
        """Statement id, account and currency, read before the siblings are released."""
        if info.statement_id is not None or parent is None:
            return
        idx = _index(parent, self._wanted)
        info.statement_id = _text(idx, "Id") or ""
        info.account_iban = _text(idx, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        info.currency = _text(idx, "Acct/Ccy")

    def _balance(self, el: Any, info: StatementInfo) -> None:
        idx = _index(el, self._wanted)
        code = _text(idx, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        if code not in _OPENING + _CLOSING:
            return
        where = f"statement {info.statement_id} balance {code}"
        bani = amount_or_error(_text(idx, "Amt"), where)
        if _direction(_text(idx, "CdtDbtInd"), where) == "debit":
            bani = -bani
        if code in _OPENING and info.opening_balance is None:
            info.opening_balance = bani
        elif code in _CLOSING:
            info.closing_balance = bani

    def _entry(
        self, el: Any, info: StatementInfo, n: int, include_pending: bool
    ) -> Iterator[PaymentRecord]:
        idx = _index(el, self._wanted)
        where = f"entry {n}"
        amt_el = _first(idx, "Amt")
        amount = amount_or_error(amt_el.text if amt_el is not None else None, f"{where} Amt")
        direction = _direction(_text(idx, "CdtDbtInd"), where)
        status = _text(idx, "Sts/Cd", "Sts/Prtry", "Sts")
        if not status:
            raise FormatError(f"{where}: status (Sts) missing")
        if status == "BOOK":
            info.booked_entries += 1
            if direction == "credit":
                info.booked_credits += amount
            else:
                info.booked_debits += amount
        else:
            info.pending_entries += 1
            if not include_pending:
                return
        svcr = _text(idx, "AcctSvcrRef")
        base: dict[str, Any] = {
            "source_format": self.source_format,
            "currency": (amt_el.get("Ccy") or "").strip() or info.currency or "MDL",
            "booking_date": _date(_text(idx, "BookgDt/Dt", "BookgDt/DtTm"), where),
            "value_date": _date(_text(idx, "ValDt/Dt", "ValDt/DtTm"), where),
            "reversal": _bool(_text(idx, "RvslInd"), where),
            "extra": {
                "status": status,
                "entry": n,
                "statement_id": info.statement_id,
                "id_scope": info.account_iban or "",
            },
        }
        txs = idx.get("NtryDtls/TxDtls", [])  # each already an index of its own
        has_batch = "NtryDtls/Btch" in idx
        batch_ref = _text(idx, "NtryRef") or svcr or f"{info.statement_id}:entry-{n}"
        if not txs:
            yield PaymentRecord(
                external_id=svcr or "",
                amount=amount,
                direction=direction,
                account_servicer_ref=svcr,
                remittance=_text(idx, "AddtlNtryInf"),
                batch_ref=batch_ref if has_batch else None,
                **base,
            )
        elif len(txs) == 1 and not has_batch:
            tx = self._tx_fields(txs[0])
            tx_svcr = tx.pop("account_servicer_ref")
            ref = svcr or tx_svcr
            yield PaymentRecord(
                external_id=ref or "",
                amount=amount,
                direction=direction,
                account_servicer_ref=ref,
                **tx,
                **base,
            )
        else:
            yield from self._batch(txs, amount, direction, where, svcr, batch_ref, base)

    def _batch(
        self,
        txs: list[dict[str, list[Any]]],
        amount: int,
        direction: str,
        where: str,
        svcr: str | None,
        batch_ref: str,
        base: dict[str, Any],
    ) -> Iterator[PaymentRecord]:
        """One record per TxDtls; the details must add up to the entry, sign included."""
        records = []
        signed_sum = 0
        for i, tx_idx in enumerate(txs, start=1):
            tx_where = f"{where} TxDtls {i}"
            tx_amount = amount_or_error(
                _text(tx_idx, "Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"), tx_where
            )
            tx_dir = _direction(_text(tx_idx, "CdtDbtInd") or _IND[direction], tx_where)
            signed_sum += tx_amount if tx_dir == direction else -tx_amount
            tx = self._tx_fields(tx_idx)
            tx_svcr = tx.pop("account_servicer_ref")
            records.append(
                PaymentRecord(
                    external_id=tx_svcr or "",
                    amount=tx_amount,
                    direction=tx_dir,
                    account_servicer_ref=tx_svcr or svcr,
                    batch_ref=batch_ref,
                    **tx,
                    **base,
                )
            )
        if signed_sum != amount:
            raise FormatError(
                f"{where}: batch details add up to {format_amount(signed_sum)}, "
                f"entry amount is {format_amount(amount)}"
            )
        yield from records

    def _tx_fields(self, tx: dict[str, list[Any]]) -> dict[str, Any]:
        """References, parties and remittance of one TxDtls (its index)."""
        e2e = _text(tx, "Refs/EndToEndId")
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
            "account_servicer_ref": _text(tx, "Refs/AcctSvcrRef"),
            "remittance": " ".join(texts) or None,
            "payment_ref": payment_ref,
            "debtor_name": _text(tx, "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm"),
            "debtor_iban": _text(tx, "RltdPties/DbtrAcct/Id/IBAN"),
        }


_IND = {"credit": "CRDT", "debit": "DBIT"}


def _release(el: Any) -> None:
    """Free a processed element and everything before it, keeping memory flat."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _direction(code: str | None, where: str) -> str:
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
    m = _DATE_RE.match(text)
    try:
        return date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


def statement_info(data: bytes) -> list[StatementInfo]:
    """Balances and totals of every statement in a camt file (reads the whole file)."""
    doc = CamtDocument(data)
    for _ in doc.records():
        pass
    return doc.statements
