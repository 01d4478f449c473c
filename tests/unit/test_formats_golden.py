"""Golden files and the refusal rules of every inbound format.

Every ``fixtures/samples/<format>/<name>.<ext>`` is parsed and compared with
``<name>.expected.jsonl`` beside it, which holds exactly what ``gateway parse`` prints for the
sample (the python-mt940 way: adding a sample adds a test; ``pytest --regen-golden`` writes or
rewrites the expected files, a mismatch fails with a unified diff: tests/golden.py). The
rule tests build bad files from the writers so each refusal is tested on an otherwise valid
file: the test fails if the rule is missing, not merely if the file is garbage.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.formats import FORMATS, FormatError, derive_ids, detect_format, get_format
from connectors.formats.base import ReadOptions
from connectors.formats.camt import CamtDocument, statement_info
from connectors.parse_cli import run
from fixtures.writers import (
    CompensationRow,
    PostLine,
    StatementMeta,
    TerminalTxn,
    TxDetail,
    WriterEntry,
    write_camt053,
    write_camt054,
    write_compensation,
    write_mt940,
    write_post_registry,
    write_terminal_page,
)
from reconciliation.model import PaymentRecord, ServiceAmount, StatementFindingKind
from tests.golden import Golden

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
NOT_SAMPLES = (".expected.jsonl", ".md")  # the expected output; a folder's notes
SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.glob("*/*")
    if p.is_file() and not p.name.startswith(".") and not p.name.endswith(NOT_SAMPLES)
)
DAY = date(2024, 11, 15)
META = StatementMeta(iban="MD24AG000225100013104168", statement_id="S1", opening_balance=10000)


def _ids(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _expected_path(path: Path) -> Path:
    return path.with_name(path.stem + ".expected.jsonl")


def _expected(path: Path) -> list[dict]:
    lines = _expected_path(path).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _json_lines(records: list[PaymentRecord]) -> str:
    """What ``gateway parse`` prints: one JSON object per record."""
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)


def test_every_format_has_a_sample() -> None:
    folders = {p.parent.name for p in SAMPLE_FILES}
    mine = {"camt053", "camt054", "mt940", "post_registry", "terminal", "compensation"}
    assert mine <= folders


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=_ids)
def test_sample_parses_to_expected_records(path: Path, golden: Golden) -> None:
    records = list(get_format(path.parent.name).parse(path.read_bytes()))
    golden.check(_expected_path(path), _json_lines(records))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=_ids)
def test_detect_format_names_the_sample_folder(path: Path) -> None:
    assert detect_format(path.read_bytes()).name == path.parent.name


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=_ids)
def test_parsing_twice_gives_the_same_ids(path: Path) -> None:
    fmt = get_format(path.parent.name)
    first = [r.external_id for r in fmt.parse(path.read_bytes())]
    assert first == [r.external_id for r in fmt.parse(path.read_bytes())]
    assert len(set(first)) == len(first), "ids must be unique within a file"


# --- derived ids ---------------------------------------------------------------------------


def test_identical_records_get_distinct_stable_ids() -> None:
    rec = PaymentRecord(source_format="x", external_id="", amount=100, booking_date=DAY)
    ids = [r.external_id for r in derive_ids([rec, rec, rec])]
    assert ids[0].endswith(":1") and ids[1].endswith(":2") and ids[2].endswith(":3")
    assert len({i.rsplit(":", 1)[0] for i in ids}) == 1
    assert ids == [r.external_id for r in derive_ids([rec, rec, rec])]


def test_derived_id_depends_on_content_and_scope_and_keeps_given_ids() -> None:
    a = PaymentRecord(source_format="x", external_id="", amount=100, extra={"id_scope": "A"})
    b = PaymentRecord(source_format="x", external_id="", amount=100, extra={"id_scope": "B"})
    c = PaymentRecord(source_format="x", external_id="", amount=101, extra={"id_scope": "A"})
    given = PaymentRecord(source_format="x", external_id="BANK-1", amount=100)
    out = [r.external_id for r in derive_ids([a, b, c, given])]
    assert len(set(out[:3])) == 3
    assert out[3] == "BANK-1"


# --- camt ----------------------------------------------------------------------------------


def _camt_entries() -> list[WriterEntry]:
    return [
        WriterEntry(amount=15050, booking_date=DAY, acct_svcr_ref="A1", remittance="cont 1"),
        WriterEntry(
            amount=30000,
            booking_date=DAY,
            entry_ref="B1",
            batch=(TxDetail(10000, acct_svcr_ref="T1"), TxDetail(20000, acct_svcr_ref="T2")),
        ),
        WriterEntry(amount=700, booking_date=DAY, status="PDNG", acct_svcr_ref="P1"),
        WriterEntry(amount=5000, booking_date=DAY, direction="debit", acct_svcr_ref="D1"),
    ]


@pytest.mark.parametrize("version", ["001.02", "001.04", "001.08"])
def test_camt_versions_read_to_the_same_records(version: str) -> None:
    data = write_camt053(_camt_entries(), META, version=version)
    records = list(get_format("camt053").parse(data))
    assert [(r.external_id, r.amount, r.direction, r.batch_ref) for r in records] == [
        ("A1", 15050, "credit", None),
        ("T1", 10000, "credit", "B1"),
        ("T2", 20000, "credit", "B1"),
        ("D1", 5000, "debit", None),
    ]


def test_pending_entries_are_left_out_unless_asked_for_and_counted() -> None:
    data = write_camt053(_camt_entries(), META)
    doc = CamtDocument(data)
    with_pending = list(doc.records(include_pending=True))
    assert [r.external_id for r in with_pending if r.extra["status"] == "PDNG"] == ["P1"]
    (info,) = statement_info(data)
    assert (info.opening_balance, info.closing_balance) == (10000, 10000 + 45050 - 5000)
    assert (info.entry_count, info.credits, info.debits) == (3, 45050, 5000)
    assert info.account_iban == META.iban and info.statement_id == "S1"


def test_camt_balance_mismatch_is_a_finding_and_refused_when_strict() -> None:
    meta = StatementMeta(iban=META.iban, statement_id="S1", opening_balance=0, closing_balance=1)
    data = write_camt053(_camt_entries(), meta)
    reading = get_format("camt053").read(data)
    assert len(list(reading.records)) == 4  # the entries stand
    ((finding,),) = [st.findings for st in reading.statements]
    assert finding.kind is StatementFindingKind.BALANCE_MISMATCH
    assert (finding.expected, finding.actual, finding.difference) == (40050, 1, 1 - 40050)
    strict = ReadOptions(strict_balances=True)
    with pytest.raises(FormatError, match="balances do not agree"):
        list(get_format("camt053").read(data, strict).records)


def test_batch_details_not_adding_up_make_one_payment_of_the_entry_and_a_finding() -> None:
    entries = _camt_entries()
    entries[1] = replace(entries[1], batch=(TxDetail(10001), TxDetail(20000)))
    data = write_camt053(entries, META)
    reading = get_format("camt053").read(data)
    records = list(reading.records)
    assert [r.amount for r in records] == [15050, 30000, 5000]  # the entry's amount is the truth
    assert records[1].batch_ref == "B1"
    ((finding,),) = [st.findings for st in reading.statements]
    assert finding.kind is StatementFindingKind.BATCH_MISMATCH and finding.difference == -1
    strict = ReadOptions(strict_balances=True)
    with pytest.raises(FormatError, match=re.escape("entry 2: batch details add up to 300.01")):
        list(get_format("camt053").read(data, strict).records)


def test_camt_three_decimal_amount_is_refused() -> None:
    data = write_camt053(_camt_entries(), META).replace(b">150.50<", b">150.505<")
    with pytest.raises(FormatError, match=r"entry 1 Amt: amount '150.505' is not exact to the ban"):
        list(get_format("camt053").parse(data))


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_camt_is_refused(cut: float) -> None:
    data = write_camt053(_camt_entries(), META)
    with pytest.raises(FormatError, match="not well-formed XML"):
        list(get_format("camt053").parse(data[: int(len(data) * cut)]))


def test_camt053_parser_refuses_a_camt054() -> None:
    with pytest.raises(FormatError, match=r"expected camt.053, got camt.054"):
        list(get_format("camt053").parse(write_camt054(_camt_entries(), META)))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
 <!ENTITY a "lol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>&d;</MsgId></GrpHdr></BkToCstmrStmt></Document>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_doctype_and_entities_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError, match="DOCTYPE") as err:
        list(get_format("camt053").parse(data))
    assert "root:" not in str(err.value)


# --- MT940 ---------------------------------------------------------------------------------


def _mt940() -> bytes:
    return write_mt940(
        [
            WriterEntry(amount=15050, booking_date=DAY, acct_svcr_ref="R1", remittance="cont 1"),
            WriterEntry(amount=5000, booking_date=DAY, direction="debit", reversal=True),
        ],
        META,
    )


def test_mt940_reversal_marks_and_balance() -> None:
    records = list(get_format("mt940").parse(_mt940()))
    assert [(r.amount, r.direction, r.reversal) for r in records] == [
        (15050, "credit", False),
        (5000, "debit", True),
    ]
    assert records[0].external_id == "R1" and records[1].external_id.startswith("h:")


def test_mt940_balance_mismatch_is_a_finding_and_refused_when_strict() -> None:
    data = _mt940().replace(b":62F:C241115MDL200,50", b":62F:C241115MDL200,51")
    reading = get_format("mt940").read(data)
    assert len(list(reading.records)) == 2
    ((finding,),) = [st.findings for st in reading.statements]
    assert (finding.kind, finding.difference) == (StatementFindingKind.BALANCE_MISMATCH, 1)
    with pytest.raises(FormatError, match="balances do not agree"):
        list(get_format("mt940").read(data, ReadOptions(strict_balances=True)).records)


def test_mt940_three_decimal_amount_is_refused() -> None:
    data = _mt940().replace(b"C150,50NTRF", b"C150,505NTRF")
    with pytest.raises(FormatError, match="not exact to the ban"):
        list(get_format("mt940").parse(data))


def test_mt940_line_without_type_code_is_refused_not_merged() -> None:
    data = _mt940().replace(b"C150,50NTRFNONREF//R1", b"C150,50//R1")
    with pytest.raises(FormatError, match=":61: lines but"):
        list(get_format("mt940").parse(data))


# --- post registry -------------------------------------------------------------------------


def _post(**kw: object) -> bytes:
    lines = [
        PostLine("1234567-1", 12050, DAY, "MD-2068", "1", (ServiceAmount("APA", 12050),)),
        PostLine("20453106", 5000, DAY, "MD-2068", "2", payer_name="Чебан"),
    ]
    return write_post_registry(lines, registry_date=DAY, **kw)  # type: ignore[arg-type]


def test_post_registry_cp1251_and_decimal_comma() -> None:
    data = _post()
    assert "Чебан".encode("cp1251") in data and b";120,50;" in data
    records = list(get_format("post_registry").parse(data))
    assert [(r.account_no, r.amount, r.debtor_name) for r in records] == [
        ("12345671", 12050, None),
        ("20453106", 5000, "Чебан"),
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"control_total": 17049}, "header: total 170.49 but the lines add up to 170.50"),
        ({"control_count": 3}, "header: count '3' but 2 lines"),
    ],
)
def test_post_registry_control_totals_are_enforced(kw: dict, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)):
        list(get_format("post_registry").parse(_post(**kw)))


def test_post_registry_dropped_line_is_refused() -> None:
    lines = _post().split(b"\r\n")
    data = b"\r\n".join([lines[0], lines[2], lines[3]])
    with pytest.raises(FormatError, match="sequence number"):
        list(get_format("post_registry").parse(data))


def test_post_registry_trailer_must_agree_too() -> None:
    data = _post().replace(b"T;2;170,50", b"T;2;170,00")
    with pytest.raises(FormatError, match=re.escape("trailer: total 170.00")):
        list(get_format("post_registry").parse(data))


def test_post_registry_three_decimals_and_bad_service_split_are_refused() -> None:
    with pytest.raises(FormatError, match="line 2"):
        list(get_format("post_registry").parse(_post().replace(b"APA:120,50", b"APA:120,505")))
    with pytest.raises(FormatError, match=re.escape("services add up to 120.00")):
        list(get_format("post_registry").parse(_post().replace(b"APA:120,50", b"APA:120,00")))


# --- terminal feed -------------------------------------------------------------------------


def _page() -> dict:
    txn = TerminalTxn("T1", "12345671", 1230, datetime(2024, 11, 14, 22, 30, tzinfo=UTC))
    return json.loads(write_terminal_page([txn], operator="QIWI-MD"))


def test_terminal_business_day_is_chisinau_date() -> None:
    (record,) = get_format("terminal").parse(json.dumps(_page()).encode())
    assert record.booking_date == date(2024, 11, 15)  # 00:30 in Chisinau
    assert (record.external_id, record.collector, record.amount) == ("T1", "QIWI-MD", 1230)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", 12.3, "amount must be a non-empty string"),
        ("amount", "12.305", "more than two decimals"),
        ("paid_at", "2024-11-14T22:30:00", "has no UTC offset"),
        ("services", [{"service_code": "APA", "amount": "1.00"}], "services add up to 1.00"),
    ],
)
def test_terminal_rules(field: str, value: object, message: str) -> None:
    page = _page()
    page["transactions"][0][field] = value
    with pytest.raises(FormatError, match=message):
        list(get_format("terminal").parse(json.dumps(page).encode()))


def test_terminal_duplicate_txn_id_is_refused() -> None:
    page = _page()
    page["transactions"].append(dict(page["transactions"][0]))
    with pytest.raises(FormatError, match="txn_id T1 repeated"):
        list(get_format("terminal").parse(json.dumps(page).encode()))


# --- compensation --------------------------------------------------------------------------


def test_compensation_control_total_is_enforced() -> None:
    data = write_compensation(
        [CompensationRow("12345671", "TERM", 15000)],
        program="AJUTOR_LA_CONTOR",
        period="2024-11",
        payer="MMPS",
        created_on=DAY,
        control_total=15001,
    )
    with pytest.raises(FormatError, match=re.escape("total 150.01 but the rows add up to 150.00")):
        list(get_format("compensation").parse(data))


# --- registry and CLI ----------------------------------------------------------------------


def test_registry_and_unknown_names() -> None:
    assert set(FORMATS) >= {"camt053", "camt054", "mt940", "post_registry", "terminal"}
    with pytest.raises(FormatError, match="unknown format 'nope'"):
        get_format("nope")
    with pytest.raises(FormatError, match="unrecognised file format"):
        detect_format(b"hello world")


def test_parse_cli_prints_json_lines(tmp_path: Path) -> None:
    sample = SAMPLES / "terminal" / "qiwi_page.json"
    out, err = io.StringIO(), io.StringIO()
    assert run(str(sample), stdout=out, stderr=err) == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == _expected(sample)
    assert err.getvalue() == ""


@pytest.mark.parametrize("content", [None, b"H;X;Y;01.01.2024;1;1,00\r\nT;1;1,00\r\n", b"\x00\xff"])
def test_parse_cli_bad_file_one_line_exit_2(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    assert run(str(path), stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith(f"error: {path}: ") and err.getvalue().count("\n") == 1
