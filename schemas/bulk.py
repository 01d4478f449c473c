"""Set-based writes and key sets: one statement per table, never a query per row.

``bulk_insert`` writes tuples with COPY on PostgreSQL and one executemany on SQLite;
``reserve_ids`` draws primary keys up front so that child rows can point at their parents
without reading anything back; ``keyset`` fills a temporary one-column table that a batch
query joins against, instead of an IN list of a hundred thousand values. Values are passed
to the driver as they are, so callers hand in driver-ready values (``db_value``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice

from sqlalchemy import Column, ColumnElement, Connection, MetaData, String, Table, select


def reserve_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` fresh primary keys for ``table``, safe against concurrent writers.

    SQLite: writers hold the write lock (BEGIN IMMEDIATE), so max(id)+1.. is ours.
    PostgreSQL: drawn from the column's sequence in one query.
    """
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        # the sequence named once: pg_get_serial_sequence in the select list runs per row
        seq = conn.exec_driver_sql(
            f"SELECT pg_get_serial_sequence('{table.name}', 'id')"
        ).scalar_one()
        rows = conn.exec_driver_sql(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (seq, n)
        ).cursor.fetchall()
        return [r[0] for r in rows]
    start = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}").scalar_one()
    return list(range(start + 1, start + 1 + n))


#: Rows handed to one executemany: bounded, so a 100,000-payment batch never holds all its
#: row tuples at once.
CHUNK_ROWS = 10_000


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple]
) -> int:
    """Insert tuples in ``columns`` order: COPY on PostgreSQL, chunked executemany elsewhere.

    ``rows`` may be a generator; it is consumed once, in bounded chunks. Returns the count.
    """
    cols = ", ".join(columns)
    n = 0
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None  # None only once the connection is invalidated
        with driver.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
        return n
    sql = f"INSERT INTO {table.name} ({cols}) VALUES ({', '.join('?' * len(columns))})"
    it = iter(rows)
    while chunk := list(islice(it, CHUNK_ROWS)):
        conn.exec_driver_sql(sql, chunk)
        n += len(chunk)
    return n


def db_value(conn: Connection, value: object) -> object:
    """A Python value as the raw driver should get it for our column types.

    JSON columns get their text; timestamps and dates on SQLite get SQLAlchemy's own storage
    format (so the ORM-free reads that follow parse them back, and the driver's per-row
    adapter call is saved); everything else passes through.
    """
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date) and conn.dialect.name == "sqlite":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return value.isoformat()
    return value


_keysets = MetaData()


def keyset(conn: Connection, name: str, keys: Iterable[str]) -> Table:
    """A temporary table ``tmp_<name>(k)`` holding ``keys``, for joins in this transaction."""
    table = _keysets.tables.get(f"tmp_{name}")
    if table is None:
        table = Table(
            f"tmp_{name}", _keysets, Column("k", String, primary_key=True), prefixes=["TEMPORARY"]
        )
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS tmp_{name} (k TEXT PRIMARY KEY)")
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(f"DELETE FROM tmp_{name}")
        rows = [(k,) for k in set(keys)]
        if rows:
            conn.exec_driver_sql(f"INSERT INTO tmp_{name} (k) VALUES (?)", rows)
        return table
    # TRUNCATE, not DELETE: nothing vacuums a temporary table, and dead keys pile up
    conn.exec_driver_sql(f"TRUNCATE tmp_{name}")
    if bulk_insert(conn, table, ("k",), ((k,) for k in set(keys))):
        # PostgreSQL plans a temporary table as tiny until it is analysed
        conn.exec_driver_sql(f"ANALYZE tmp_{name}")
    return table


def in_keys(column: ColumnElement, keys: Table) -> ColumnElement[bool]:
    """``column IN (SELECT k FROM keys)``: how a batch query should use a key set.

    Not a join: without statistics SQLite plans ``JOIN tmp ON tmp.k = column`` as a scan of
    the big table probing the key set (a full scan of the invoices per round of payments),
    while the IN form drives from the key set through the column's index, on both backends.
    """
    return column.in_(select(keys.c.k))
