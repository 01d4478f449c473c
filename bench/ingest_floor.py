"""The naive floor of ``bench.ingest``: the least a 100,000-entry statement's ingest can do.

the raw bytes written and fsynced, lxml iterparse, a regex for the account, one dict join
against the accounts' open lines, allocation rows paid line by line, sqlite3 executemany,
one commit. No validation, no
duplicate check, no review, no reversals. Two modes:

* ``schema``: the payments and allocation rows go into the gateway's own ``payments`` and
  ``allocations`` tables, indexes included: what any writer of those rows must pay, and the
  baseline of the target;
* ``bare``: into 3-column tables without indexes (the earlier floor), for information.

Run as ``python -m bench.ingest_floor DB XML MODE``; prints one JSON line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path

from lxml import etree

from bench.common import peak_mb

NS = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}"
ACC = re.compile(r"(\d{7})-?(\d)")
NOW, DAY = "2026-11-20 12:00:00.000000", "2026-11-20"
LINES_SQL = """
SELECT a.account_no, a.id, l.id, l.service_id, l.provider_id, l.amount_due
FROM want w JOIN accounts a ON a.account_no = w.account_no
JOIN invoices i ON i.account_id = a.id AND i.status = 'open'
JOIN invoice_lines l ON l.invoice_id = i.id ORDER BY i.period
"""


def keep_raw(data: bytes, folder: Path) -> None:
    """The raw bytes kept durably before parsing, as the gateway must (write, fsync)."""
    path = folder / hashlib.sha256(data).hexdigest()
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def parse(xml: str, raw_dir: Path) -> list[tuple]:
    data = Path(xml).read_bytes()
    keep_raw(data, raw_dir)
    recs = []
    events = etree.iterparse(
        io.BytesIO(data), tag=NS + "Ntry", resolve_entities=False, no_network=True
    )
    for _, el in events:
        lei, _, ban = el.findtext(NS + "Amt").partition(".")
        text = " ".join(t.text or "" for t in el.iter(NS + "Ustrd"))
        m = ACC.search(text)
        acc = m.group(1) + m.group(2) if m else None
        recs.append((el.findtext(NS + "AcctSvcrRef"), int(lei) * 100 + int(ban or 0), acc, text))
        el.clear()
    return recs


def open_lines(conn: sqlite3.Connection, recs: list[tuple]) -> dict[str, list[list]]:
    conn.execute("CREATE TEMP TABLE want(account_no TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO want VALUES (?)", [(r[2],) for r in recs if r[2]])
    lines: dict[str, list[list]] = defaultdict(list)
    for acc, aid, lid, sid, pid, due in conn.execute(LINES_SQL):
        lines[acc].append([aid, lid, sid, pid, due])
    return lines


def write_payments(conn: sqlite3.Connection, recs: list[tuple], mode: str) -> dict[str, int]:
    if mode == "bare":
        conn.execute(
            "CREATE TABLE floor_pay(id INTEGER PRIMARY KEY, ref TEXT UNIQUE, amount INT, acc TEXT)"
        )
        conn.executemany(
            "INSERT INTO floor_pay(ref, amount, acc) VALUES (?,?,?)", [r[:3] for r in recs]
        )
        return dict(conn.execute("SELECT ref, id FROM floor_pay"))
    first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM payments").fetchone()[0]
    conn.executemany(
        "INSERT INTO payments (id, source, external_id, channel, business_day, amount, currency,"
        " direction, reversal, account_servicer_ref, remittance, status, account_no, created_at)"
        " VALUES (?, 'floor', ?, 'transfer', ?, ?, 'MDL', 'credit', 0, ?, ?, 'allocated', ?, ?)",
        [
            (first + i, ref, DAY, amt, ref, text, acc, NOW)
            for i, (ref, amt, acc, text) in enumerate(recs)
        ],
    )
    return {r[0]: first + i for i, r in enumerate(recs)}


def allocation_rows(
    recs: list[tuple], ids: dict[str, int], lines: dict[str, list[list]]
) -> list[tuple]:
    rows = []
    for ref, amount, acc, _ in recs:
        left = amount
        own = lines.get(acc, ())
        for line in own:
            take = min(left, line[4])
            if take > 0:
                rows.append((ids[ref], line[0], line[1], line[2], line[3], take))
                line[4] -= take
                left -= take
        if left and own:
            rows.append((ids[ref], own[0][0], None, None, None, left))
    return rows


def write_allocations(conn: sqlite3.Connection, rows: list[tuple], mode: str) -> None:
    if mode == "bare":
        conn.execute("CREATE TABLE floor_alloc(pay_id INT, line_id INT, amount INT)")
        conn.executemany(
            "INSERT INTO floor_alloc VALUES (?,?,?)", [(r[0], r[2], r[5]) for r in rows]
        )
        return
    first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM allocations").fetchone()[0]
    conn.executemany(
        "INSERT INTO allocations (id, payment_id, account_id, invoice_line_id, service_id,"
        " provider_id, amount, kind, reverses_id, business_day, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 'floor', ?)",
        [
            (first + i, p, a, line, s, v, amt, "payment" if line else "advance", DAY, NOW)
            for i, (p, a, line, s, v, amt) in enumerate(rows)
        ],
    )


def main(db: str, xml: str, mode: str) -> None:
    t0 = time.perf_counter()
    raw_dir = Path(db).with_suffix(".raw")
    raw_dir.mkdir(exist_ok=True)
    recs = parse(xml, raw_dir)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    lines = open_lines(conn, recs)
    ids = write_payments(conn, recs, mode)
    write_allocations(conn, allocation_rows(recs, ids, lines), mode)
    conn.commit()
    print(json.dumps({"seconds": time.perf_counter() - t0, "maxrss_mb": peak_mb()}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
