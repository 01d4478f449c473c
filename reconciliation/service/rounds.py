"""Plans made outside SQLite's write lock, written in short write transactions, re-checked.

SQLite has one writer at a time. An apply that planned its rounds inside its write
transaction held the lock for the whole round, reads and matching included (0.3-1 s per
2,000 records, seconds for the first round, which also builds the account book), and the bank
API's posts waited behind it. So, when the caller asks for it (``Transactions.split``, the
ingest on SQLite):

1. A planning batch (``apply.SPLIT_ROUND`` records) is read and planned in a *read*
   transaction (``BEGIN DEFERRED``: no write lock; the key sets' temporary tables live in the
   temp database, whose writes do not take the main file's lock). The snapshot notes
   SQLite's ``PRAGMA data_version`` and the highest ids of the tables other writers add to
   (``Snapshot``); each plan carries the keys of what its planning read
   (``footprint.plan_keys``).
2. The plans are written in short write transactions (``BEGIN IMMEDIATE``): at most the
   records and seconds the caller's ``window()`` allows (while other writers are about, a few
   hundred records and ``BUDGET``; an ingest alone takes longer windows, see
   ``gateway.services.ingest_rounds``), sized after the last one, each committed with the
   file's progress; the caller pauses a few ms after each commit so a waiting writer gets in.
3. Re-check at write time, under the lock: when ``data_version`` is unchanged, nobody else
   committed since the snapshot (or since our last write) and the plans stand as made.
   Otherwise the rows other writers added since (payments, allocations, invoices, above the
   noted ids) are turned into keys (``changes_since``), and every not-yet-written plan whose
   keys meet them is planned again, alone, under the lock, against what is stored now; a
   plan whose outcome (status, account, money) then differs marks what it changes (its
   accounts and bank refs, old and new: ``footprint.effect_keys``), so the later plans of the
   batch that read them follow. Changes the keys cannot
   describe (a review action or a register import committed meanwhile: they update rows)
   discard the rest of the batch's plans, which are planned again in a new read snapshot.

So every plan written was made from a state that includes every commit before its write
transaction, as if planned under the lock; a post that paid an invoice line between the
plan and the write is seen by the plan that is written (no line is paid twice). Without
``split`` (PostgreSQL: no global write lock) a round is planned and written in one
transaction. Crash-resume is unchanged: each write transaction records the progress, and a
rerun skips what is stored by (source, external_id).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from reconciliation.plan import Planned
from reconciliation.service.footprint import Keys, effect, effect_keys

#: Seconds a write transaction of the ingest should hold SQLite's write lock: the wait of a
#: post that arrives just after it began.
BUDGET = 0.04
#: Records of the first write transaction of a batch, before its cost was measured.
FIRST = 100
#: Fewest records per write transaction, however slow the last one was.
FEWEST = 25


class Transactions(Protocol):
    """How the caller runs the apply's transactions (the ingest: ``ingest_rounds.Rounds``)."""

    #: plan in read transactions and write in short write transactions (see the module doc)
    split: bool
    #: records per write transaction at most (``split``), or per round
    most: int

    def read(self) -> None:
        """End any open transaction and begin a read transaction (no write lock)."""

    def write(self, *, last: bool = False) -> None:
        """End any open transaction and begin a write transaction (``last``: the one the
        caller finishes and commits, which must be durable)."""

    def commit(self, done: int) -> None:
        """Record that ``done`` records of the file are applied, commit, let others in."""

    def window(self) -> tuple[int, float]:
        """The next write transaction's size: (records at most, seconds of lock at most);
        called inside it, so the caller may look at who else wrote meanwhile."""


class Kind(enum.Enum):
    """How a plan is made again (``Planner.replan``)."""

    FIXED = "fixed"  # its outcome depends on its identity alone (screened out, lump, debit)
    CREDIT = "credit"  # matched and allocated (``credits.plan_credits``)
    REVERSAL = "reversal"  # a bank's reversal, paired with its original


@dataclass(frozen=True)
class Item:
    """A plan waiting to be written, with what its planning read."""

    plan: Planned
    keys: Keys
    kind: Kind = Kind.CREDIT


class Planner(Protocol):
    """What the writer needs of the apply (``apply._Apply``)."""

    source: str

    def persist(self, plans: Sequence[Planned]) -> None: ...

    def replan(self, item: Item) -> Item | None:
        """``item`` planned again against what is stored now; None when now known."""

    def again(self, items: Sequence[Item]) -> list[Item]:
        """``items`` planned again together in the current (read) transaction."""


#: The highest ids other writers' new rows are found above; the last two only tell that a
#: review action or a register import happened (``changes_since``).
_MARKS_SQL = (
    "SELECT (SELECT MAX(id) FROM payments), (SELECT MAX(id) FROM allocations), "
    "(SELECT MAX(id) FROM invoices), (SELECT MAX(id) FROM review_actions), "
    "(SELECT MAX(id) FROM register_imports)"
)


@dataclass(frozen=True)
class Snapshot:
    """Where the plans' snapshot stands: SQLite's data_version and the tables' highest ids."""

    version: int
    marks: tuple[int, ...]

    @classmethod
    def take(cls, conn: Connection) -> Snapshot:
        """Inside the transaction whose reads the plans use (first: it fixes the snapshot)."""
        marks = tuple(int(m or 0) for m in conn.exec_driver_sql(_MARKS_SQL).one())
        return cls(data_version(conn), marks)


def data_version(conn: Connection) -> int:
    """Changes when another connection commits to the file (never for our own commits)."""
    return int(conn.exec_driver_sql("PRAGMA data_version").scalar_one())


def changes_since(conn: Connection, snap: Snapshot, source: str) -> set[str] | None:
    """Keys of the rows other writers added since ``snap`` (our own rows are below its
    marks, which move on after each of our writes); None for a change the keys cannot
    describe (a review action or a register import: both update rows in place)."""
    pay, alloc, inv, action, imp = snap.marks
    late = conn.exec_driver_sql(
        "SELECT (SELECT MAX(id) FROM review_actions), (SELECT MAX(id) FROM register_imports)"
    ).one()
    if int(late[0] or 0) > action or int(late[1] or 0) > imp:
        return None
    keys: set[str] = set()
    rows = conn.exec_driver_sql(
        "SELECT source, external_id, account_no, account_servicer_ref, end_to_end_id "
        "FROM payments WHERE id > ?",
        (pay,),
    )
    for src, ext, acc, svcr, e2e in rows:
        if src == source:
            keys.add(f"i:{ext}")
        if acc:
            keys.add(f"a:{acc}")
        keys.update(f"r:{ref}" for ref in (svcr, e2e) if ref)
    keys.update(
        f"a:{acc}"
        for (acc,) in conn.exec_driver_sql(
            "SELECT ac.account_no FROM allocations al JOIN accounts ac ON ac.id = al.account_id "
            "WHERE al.id > ?",
            (alloc,),
        )
    )
    for no, ref, acc in conn.exec_driver_sql(
        "SELECT i.invoice_no, i.payment_ref, ac.account_no FROM invoices i "
        "JOIN accounts ac ON ac.id = i.account_id WHERE i.id > ?",
        (inv,),
    ):
        keys.update((f"n:{no}", f"f:{ref}", f"a:{acc}"))
    return keys


def write_planned(
    conn: Connection,
    tx: Transactions,
    snap: Snapshot,
    items: list[Item],
    app: Planner,
    *,
    done: int,
) -> None:
    """Write ``items`` (planned in ``snap``) in short write transactions, re-checked (see the
    module doc); ``done`` counts the file's records read so far, these items' included."""
    dirty: set[str] = set()
    size = FIRST
    while items:
        tx.write()
        most, budget = tx.window()
        size = min(size, most)
        version = data_version(conn)
        if version != snap.version:
            touched = changes_since(conn, snap, app.source)
            if touched is None:  # plan the rest again, in a fresh snapshot
                tx.read()
                snap = Snapshot.take(conn)
                items, dirty = app.again(items), set()
                continue
            dirty |= touched
        start = time.monotonic()
        chunk = items[:size]
        written = _write_chunk(app, chunk, dirty, start + budget)
        items = items[written:]
        marks = tuple(int(m or 0) for m in conn.exec_driver_sql(_MARKS_SQL).one())
        snap = Snapshot(version, marks)  # our own rows are below the marks from now on
        took = time.monotonic() - start
        tx.commit(done - len(items))
        size = max(FEWEST, int(budget * written / max(took, 1e-4)))


def _write_chunk(app: Planner, chunk: Sequence[Item], dirty: set[str], deadline: float) -> int:
    """Persist the chunk in order; a plan whose keys meet ``dirty`` is planned again first
    (after the plans before it are stored, so it sees them). Plans made again take time
    under the lock: past ``deadline`` the chunk stops after the current one. Returns how
    many items of the chunk are done (written, or found known)."""
    start = 0
    for k, item in enumerate(chunk):
        if not item.keys & dirty:
            continue
        app.persist([i.plan for i in chunk[start:k]])
        start = k + 1
        new = app.replan(item)
        if effect(new.plan if new else None) != effect(item.plan):  # later plans saw the old
            dirty |= effect_keys(item.plan) | (effect_keys(new.plan) if new else set())
        if new is not None:
            app.persist([new.plan])
        if time.monotonic() > deadline:
            return start
    app.persist([i.plan for i in chunk[start:]])
    return len(chunk)
