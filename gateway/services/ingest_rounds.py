"""How an ingest holds its file and the database while it applies: claims, rounds, undo.

- Claim: one ingest per file at a time, for the whole apply (several transactions): a
  PostgreSQL session advisory lock on the apply connection (released by a crash with the
  connection), on SQLite a byte-range lock at offset ``raw_id`` of one lock file beside the
  database (released by the OS when the process dies) plus an in-process set for threads.
  A second ingest of the same file answers "already being ingested".
- Rounds: the file is applied in rounds, each its own transaction that also records the
  file's progress (``raw_files.records`` and the reason "applying: N records so far"), so
  SQLite's write lock is given back between rounds (the bank API's posts get in) and a crash
  resumes: the next run skips what earlier rounds stored, by (source, external_id), and
  applies the rest. Lump sums, debits, reversals, settlement and the statements are written
  by the last transaction, which also marks the file ``applied``.
- Undo: a file found bad after some rounds were committed (a late format error, a value the
  database refuses) is undone by its identity: every payment with its ``raw_file_id``, their
  allocations, learned placements and review items are deleted in one transaction, then the
  file is quarantined. Nothing of a file stays half-applied, and nothing is applied twice.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, select, text, update

from schemas.tables import allocations, learned_placements, payments, raw_files, review_items

#: Records per committed round: on SQLite small, so a post waits at most one short round.
SQLITE_ROUND = 2_000
#: After each commit the ingest pauses this long, so writers waiting for the lock get it.
SQLITE_PAUSE = 0.01
_ADVISORY_CLASS = 0x1D6E  # pg_try_advisory_lock(class, raw_id): "ingest of this file"

_local = threading.Lock()
_applying: set[tuple[str, int]] = set()


class Busy(Exception):
    """Another ingest holds this file."""


@contextmanager
def claimed(conn: Connection, raw_id: int) -> Iterator[None]:
    """Hold the file for this ingest (see the module doc); ``Busy`` when another has it."""
    key = (str(conn.engine.url), raw_id)
    with _local:
        if key in _applying:
            raise Busy
        _applying.add(key)
    try:
        with _cross_process(conn, raw_id):
            yield
    finally:
        with _local:
            _applying.discard(key)


@contextmanager
def _cross_process(conn: Connection, raw_id: int) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        args = {"c": _ADVISORY_CLASS, "r": raw_id}
        got = conn.execute(text("SELECT pg_try_advisory_lock(:c, :r)"), args).scalar_one()
        conn.commit()
        if not got:
            raise Busy
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:c, :r)"), args)
            conn.commit()
        return
    path = Path(conn.engine.url.database or "gateway.db").with_suffix(".ingest-lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, raw_id)
        except OSError:
            raise Busy from None
        yield
    finally:
        os.close(fd)  # releases the lock


def round_size(conn: Connection) -> int | None:
    """The committed round's size: small on SQLite, the apply's own default elsewhere."""
    return SQLITE_ROUND if conn.dialect.name == "sqlite" else None


def commit_round(conn: Connection, raw_id: int, done: int) -> None:
    """Record the progress in the round's transaction, commit it, let waiting writers in."""
    conn.execute(
        update(raw_files)
        .where(raw_files.c.id == raw_id)
        .values(records=done, reason=f"applying: {done} records so far")
    )
    conn.commit()
    if conn.dialect.name == "sqlite":
        time.sleep(SQLITE_PAUSE)


def undo(engine: Engine, raw_id: int) -> int:
    """Delete what committed rounds of this file wrote; returns the payments removed."""
    mine = select(payments.c.id).where(payments.c.raw_file_id == raw_id).scalar_subquery()
    with engine.begin() as conn:
        conn.execute(delete(learned_placements).where(learned_placements.c.payment_id.in_(mine)))
        conn.execute(delete(allocations).where(allocations.c.payment_id.in_(mine)))
        conn.execute(delete(review_items).where(review_items.c.payment_id.in_(mine)))
        gone = conn.execute(delete(payments).where(payments.c.raw_file_id == raw_id)).rowcount
    return int(gone or 0)


@contextmanager
def rounds_connection(engine: Engine, cache_mb: int) -> Iterator[Connection]:
    """A connection for an apply in several transactions; on SQLite without per-row
    foreign-key checks and with a bigger page cache (as ``gateway.db.bulk_transaction``).
    The caller commits each round; an exception rolls back the open one."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            before = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        finally:
            if raw is not None:
                conn.rollback()
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute(f"PRAGMA cache_size={int(before)}")
