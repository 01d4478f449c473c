"""ISO 20022 pain.001.001.03 (customer credit transfer initiation) for payment orders.

One message, one payment information block (the billing centre's account as debtor, batch
booking, execution on the next day), one transaction per ``OrderLine``. Amounts are written
from bani with exactly two decimals; names are truncated to the schema's 140 characters.
Validated against ../shared/iso20022/pain.001.001.03.xsd in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from reconciliation.money import format_amount
from reconciliation.orders import OrderLine

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"


@dataclass(frozen=True, slots=True)
class Debtor:
    name: str
    iban: str
    bic: str | None = None


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _path(parent: etree._Element, tags: str, text: str) -> None:
    node = parent
    for tag in tags.split("/"):
        node = _el(node, tag)
    node.text = text


def write_pain001(
    message_id: str,
    created: datetime,
    execution: date,
    debtor: Debtor,
    lines: Sequence[OrderLine],
    currency: str = "MDL",
) -> bytes:
    total = format_amount(sum(ln.amount for ln in lines))
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    init = _el(root, "CstmrCdtTrfInitn")
    hdr = _el(init, "GrpHdr")
    _el(hdr, "MsgId", message_id)
    _el(hdr, "CreDtTm", created.replace(microsecond=0).isoformat())
    _el(hdr, "NbOfTxs", str(len(lines)))
    _el(hdr, "CtrlSum", total)
    _path(hdr, "InitgPty/Nm", _name(debtor.name))
    pmt = _el(init, "PmtInf")
    _el(pmt, "PmtInfId", message_id)
    _el(pmt, "PmtMtd", "TRF")
    _el(pmt, "BtchBookg", "true")
    _el(pmt, "NbOfTxs", str(len(lines)))
    _el(pmt, "CtrlSum", total)
    _el(pmt, "ReqdExctnDt", execution.isoformat())
    _path(pmt, "Dbtr/Nm", _name(debtor.name))
    acct = _el(pmt, "DbtrAcct")
    _path(acct, "Id/IBAN", debtor.iban)
    _el(acct, "Ccy", currency)
    agent = _el(_el(pmt, "DbtrAgt"), "FinInstnId")
    if debtor.bic:
        _el(agent, "BIC", debtor.bic)
    else:
        _path(agent, "Othr/Id", "NOTPROVIDED")
    _el(pmt, "ChrgBr", "SLEV")
    for ln in lines:
        tx = _el(pmt, "CdtTrfTxInf")
        ids = _el(tx, "PmtId")
        _el(ids, "InstrId", ln.end_to_end_id)
        _el(ids, "EndToEndId", ln.end_to_end_id)
        _el(_el(tx, "Amt"), "InstdAmt", format_amount(ln.amount), Ccy=currency)
        _path(tx, "Cdtr/Nm", _name(ln.creditor.name))
        _path(tx, "CdtrAcct/Id/IBAN", ln.creditor.iban)
        _path(tx, "RmtInf/Ustrd", ln.remittance_info)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _name(text: str) -> str:
    text = " ".join(text.split())
    return (text or "-")[:140]
