"""How an ingest holds its file and the database while it applies: claims, rounds, undo.

- Claim: one ingest per file at a time, for the whole apply (several transactions): a
  PostgreSQL session advisory lock on the apply connection (released by a crash with the
  connection), on SQLite a byte-range lock at offset ``raw_id`` of one lock file beside the
  database (released by the OS when the process dies) plus an in-process set for threads.
  A second ingest of the same file answers "already being ingested".
- Rounds (``Rounds``): the file is applied in write transactions that each also record the
  file's progress (``raw_files.records`` and the reason "applying: N records so far"), so a
  crash resumes: the next run skips what earlier transactions stored, by (source,
  external_id), and applies the rest. On SQLite the rounds are planned in read transactions
  and written in short write transactions of at most ``SQLITE_ROUND`` records and about
  ``reconciliation.service.rounds.BUDGET`` seconds each, re-checked against what other
  writers committed meanwhile (that module's doc), with a pause of ``SQLITE_PAUSE`` after
  each commit: the bank API's writer, which tries for the lock every few ms
  (``gateway.writer``), gets in within milliseconds. While no other writer has committed for
  ``QUIET`` seconds (SQLite's ``data_version``, read at each BEGIN and commit) the windows
  are longer (``SQLITE_ALONE_ROUND`` records, ``ALONE_BUDGET`` seconds, then
  ``SQLITE_PAUSE_ALONE``): an ingest alone pays little for short windows, and a post that
  arrives meanwhile waits one such window at most. On PostgreSQL (no global write lock)
  a round of ``apply.ROUND_SIZE`` records is planned and written in one transaction. Lump
  sums, debits, reversals, settlement and the statements are written by the last
  transaction, which also marks the file ``applied``.
- Undo: a file found bad after some rounds were committed (a late format error, a value the
  database refuses) is undone by its identity: every payment with its ``raw_file_id``, their
  allocations, learned placements and review items are deleted in one transaction, then the
  file is quarantined. Nothing of a file stays half-applied, and nothing is applied twice.
  Nobody can have acted on what it deletes: the file's review items are written ``held``
  (not in the queue, no action, not even a comment) and opened by its last transaction,
  and its payments cannot be taken back (unmatch) before the file is ``applied``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text, update

from reconciliation.service import ROUND_SIZE
from schemas.tables import allocations, learned_placements, payments, raw_files, review_items

#: Records per write transaction on SQLite at most (its time budget usually makes it fewer).
SQLITE_ROUND = 500
#: After each commit the ingest pauses this long, so writers waiting for the lock get it
#: (they try every 1-5 ms).
SQLITE_PAUSE = 0.003
#: Alone (no other writer committed during the last ``QUIET`` seconds, seen at each BEGIN and
#: commit) the ingest writes longer transactions: per-transaction costs (progress row, marks,
#: commit) stay small beside the work. A post that arrives meanwhile waits at most one such
#: window; its commit is seen at the ingest's next BEGIN, which goes back to short windows.
SQLITE_ALONE_ROUND = 5_000
ALONE_BUDGET = 0.15
#: The pause after a long window: longer than a waiting writer's 1-5 ms between tries, so
#: one that started waiting during the window is sure to get in before the next.
SQLITE_PAUSE_ALONE = 0.008
QUIET = 1.0
#: WAL pages between the ingest connection's checkpoints (each copies the WAL and fsyncs).
CHECKPOINT_PAGES = 8_000
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


class Rounds:
    """The ingest's transactions (``reconciliation.service.rounds.Transactions``) on its
    connection: read and write transactions on SQLite (``split``), rounds elsewhere."""

    def __init__(
        self,
        conn: Connection,
        raw_id: int,
        most: int | None = None,
        on_commit: Callable[[int], object] | None = None,
    ) -> None:
        self.conn, self.raw_id, self.on_commit = conn, raw_id, on_commit
        self.split = conn.dialect.name == "sqlite"
        self.asked = most  # GATEWAY_INGEST_ROUND: the largest write transaction, always
        self.most = most or (SQLITE_ROUND if self.split else ROUND_SIZE)
        self.version: int | None = None  # SQLite's data_version as last seen
        self.others_at = float("-inf")  # when another writer's commit was last seen

    def read(self) -> None:
        self._begin(deferred=True)

    def write(self, *, last: bool = False) -> None:
        self._begin(deferred=False, durable=last)

    def _begin(self, *, deferred: bool, durable: bool = False) -> None:
        if self.conn.in_transaction():
            self.conn.rollback()  # a read transaction, or nothing written yet
        if durable and self.split:  # the file's last transaction: synced like any other
            raw: Any = self.conn.connection.driver_connection
            raw.execute("PRAGMA synchronous=FULL")
        self.conn.execution_options(sqlite_deferred=deferred)
        self.conn.begin()
        if self.split and not deferred:
            self._look()

    def window(self) -> tuple[int, float]:
        """Short windows while another writer is about, long ones when the ingest is alone."""
        from reconciliation.service.rounds import BUDGET

        if self._alone():
            return self.asked or SQLITE_ALONE_ROUND, ALONE_BUDGET
        return self.most, BUDGET

    def _alone(self) -> bool:
        return time.monotonic() - self.others_at >= QUIET

    def _look(self) -> None:
        """Note when another connection's commit shows in SQLite's data_version."""
        raw: Any = self.conn.connection.driver_connection
        version = raw.execute("PRAGMA data_version").fetchone()[0]
        if self.version is not None and version != self.version:
            self.others_at = time.monotonic()
        self.version = version

    def commit(self, done: int) -> None:
        """Record the progress in the transaction, commit it, let waiting writers in."""
        self.conn.execute(
            update(raw_files)
            .where(raw_files.c.id == self.raw_id)
            .values(records=done, reason=f"applying: {done} records so far")
        )
        self.conn.commit()
        if self.on_commit is not None:
            self.on_commit(done)
        if self.split:
            self._look()  # no transaction around it
            time.sleep(SQLITE_PAUSE_ALONE if self._alone() else SQLITE_PAUSE)


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
            # Rounds before the last commit without an fsync (WAL): a power cut may lose the
            # last of them, as a crash would; the rerun applies them again (the raw file and
            # its row were synced before), and any later synced commit syncs them too.
            raw.execute("PRAGMA synchronous=NORMAL")
            # a checkpoint (and its fsync) per 32 MB of WAL, not per commit past 4 MB
            raw.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
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
                raw.execute("PRAGMA synchronous=FULL")
                raw.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
