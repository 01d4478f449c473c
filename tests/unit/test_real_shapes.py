"""Conformance corpus: bank files in the shapes real banks send (fixtures/samples/real_shapes/).

Each file sits beside ``<name>.expected.jsonl``: what ``gateway parse --statements`` prints
(records, statement lines, findings), or ``{"type": "refused", "error": ...}`` for a file the
gateway refuses (``pytest --regen-golden`` rewrites them; review with ``git diff``). An
optional ``<name>.options.json`` holds the connector options the file is read with.

Besides the golden output, every accepted file is read a second time, independently: camt
with plain lxml (XPath by local name, amounts through ``Decimal``), MT940/MT942 with the
mt-940 library and nothing of ours. Counts, booked credits and debits, balances and the
account-servicer references must agree. A refused file gives exactly one line naming the
file and why, and no traceback; nothing hangs (a timeout per file).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import mt940
import pytest
from lxml import etree

from connectors.formats import detect_format
from connectors.formats.base import ReadOptions
from connectors.parse_cli import run
from tests.golden import Golden

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "real_shapes"
_NOT_FILES = (".expected.jsonl", ".options.json", ".md")
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.name.endswith(_NOT_FILES))
CLASSES = ("amounts", "balances", "camt054_batches", "versions", "mt940", "encodings", "collectors")


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def _options(path: Path) -> ReadOptions:
    side = path.with_name(path.name + ".options.json")
    return ReadOptions(**json.loads(side.read_text("utf-8"))) if side.is_file() else ReadOptions()


def _parse(path: Path) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(str(path), options=_options(path), statements=True, stdout=out, stderr=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_every_class_has_at_least_two_files() -> None:
    for name in CLASSES:
        assert len([p for p in FILES if p.parent.name == name]) >= 2, name
    assert [p for p in FILES if p.parent.name == "refused"], "refused shapes"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", FILES, ids=_id)
def test_file_reads_to_its_expected_output(path: Path, golden: Golden) -> None:
    code, lines, err = _parse(path)
    if code:
        assert "Traceback" not in err
        (line,) = err.splitlines()  # one line: the file, where and why
        assert line.startswith(f"error: {path}: ")
        lines = [{"type": "refused", "error": line.removeprefix(f"error: {path}: ")}]
    text = "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in lines)
    golden.check(path.with_name(path.name + ".expected.jsonl"), text)


@dataclass
class _Block:
    """One statement as an independent reader sees it (bani; refs of booked entries)."""

    count: int = 0
    credits: int = 0
    debits: int = 0
    opening: int | None = None
    closing: int | None = None
    refs: list[set[str]] = field(default_factory=list)  # per entry, the refs it carries


def _bani(text: str | Decimal) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), f"{text} is not exact to the ban"
    return int(value)


def _lxml_blocks(data: bytes) -> list[_Block]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)

    def x(el: etree._Element, path: str) -> list:
        steps = "/".join(f"*[local-name()='{s}']" for s in path.split("/"))
        return el.xpath(steps)

    blocks = []
    for stmt in root.xpath("/*/*/*[local-name()='Stmt' or local-name()='Rpt' or "
                           "local-name()='Ntfctn']"):  # fmt: skip
        block = _Block()
        for bal in x(stmt, "Bal"):
            code = "".join(x(bal, "Tp/CdOrPrtry/Cd")[0].itertext()).strip()
            amount = _bani(x(bal, "Amt")[0].text)
            if x(bal, "CdtDbtInd")[0].text == "DBIT":
                amount = -amount
            if code in ("OPBD", "PRCD"):
                block.opening = amount
            elif code == "CLBD":
                block.closing = amount
        for ntry in x(stmt, "Ntry"):
            status = "".join(x(ntry, "Sts")[0].itertext()).strip()
            if status != "BOOK":
                continue
            amount = _bani(x(ntry, "Amt")[0].text)
            block.count += 1
            if x(ntry, "CdtDbtInd")[0].text == "CRDT":
                block.credits += amount
            else:
                block.debits += amount
            refs = {e.text for e in [*x(ntry, "AcctSvcrRef"),
                                     *x(ntry, "NtryDtls/TxDtls/Refs/AcctSvcrRef")]}  # fmt: skip
            block.refs.append(refs)
        blocks.append(block)
    return blocks


def _mt940_blocks(data: bytes) -> list[_Block]:
    text = data.decode("latin-1")  # amounts, marks and references are ASCII in any encoding
    blocks = []
    for st in mt940.parse_statements(io.StringIO(text), options=mt940.Options.all()):
        block = _Block()
        for tx in st:
            amount = _bani(tx.data["amount"].amount)  # signed: RC and D negative
            block.count += 1
            if amount >= 0:
                block.credits += amount
            else:
                block.debits -= amount
            block.refs.append(
                {tx.data["bank_reference"]} if tx.data.get("bank_reference") else set()
            )
        for key in ("final_opening_balance", "intermediate_opening_balance"):
            if key in st.data:
                block.opening = _bani(st.data[key].amount.amount)
                break
        for key in ("final_closing_balance", "intermediate_closing_balance"):
            if key in st.data:
                block.closing = _bani(st.data[key].amount.amount)
                break
        blocks.append(block)
    return blocks


ACCEPTED = [p for p in FILES if p.parent.name != "refused" and "refused" not in p.name]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ACCEPTED, ids=_id)
def test_totals_agree_with_an_independent_reading(path: Path) -> None:
    data = path.read_bytes()
    code, lines, _ = _parse(path)
    assert code == 0
    fmt = detect_format(data).name
    blocks = _lxml_blocks(data) if fmt.startswith("camt") else _mt940_blocks(data)
    statements = [x for x in lines if x.get("type") == "statement"]
    records = [x for x in lines if "type" not in x]
    assert len(statements) == len(blocks)
    for ours, theirs in zip(statements, blocks, strict=True):
        assert ours["entry_count"] == theirs.count
        assert (_bani(ours["credits"]), _bani(ours["debits"])) == (theirs.credits, theirs.debits)
        if theirs.opening is not None:
            assert _bani(ours["opening_balance"]) == theirs.opening
        if theirs.closing is not None:
            assert _bani(ours["closing_balance"]) == theirs.closing
    money = fmt not in ("camt052", "mt942") or _options(path).intraday_booked
    if not money:
        assert records == []
        return
    signed = sum(_bani(r["amount"]) * (1 if r["direction"] == "credit" else -1) for r in records)
    assert signed == sum(b.credits - b.debits for b in blocks)
    ours_refs = {r["account_servicer_ref"] for r in records}
    every_ref = set().union(*(refs for b in blocks for refs in b.refs))
    assert ours_refs - {None} <= every_ref
    for b in blocks:
        for refs in b.refs:
            assert not refs or refs & ours_refs, f"no record carries any of {refs}"
