"""Every write of this process to a SQLite file goes through one writer: group commit.

SQLite has one writer at a time and a durable commit costs an fsync, so committing each
payment alone caps the rate at the disk's fsyncs per second, and threads queueing on the
file lock sleep in SQLite's busy handler. ``write`` (synchronous callers, ``GroupCommit``'s
thread) and ``write_async`` (the event loop, ``LoopWriter``) run each job inside a SAVEPOINT
of one ``BEGIN IMMEDIATE`` transaction per batch and complete the jobs only after the one
commit, so no caller hears "done" before its commit is durable. On PostgreSQL both are one
plain transaction per call. See docs/perf.md for the figures behind this design.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from gateway.db import SQLITE_PRAGMAS

T = TypeVar("T")
#: A finished job: (its future, its result, or the error it raised).
Done = tuple[Any, Any, BaseException | None]

_GROUPS: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def _tune(raw: Any) -> None:
    """The writer's cache pragmas: hints only. A pooled connection that an ingest used holds
    TEMP tables, and SQLite refuses to change temp_store then; it keeps its setting."""
    for pragma in SQLITE_PRAGMAS:
        try:
            raw.execute(pragma)
        except sqlite3.OperationalError:
            continue


class GroupCommit:
    """One writer thread per SQLite engine: one BEGIN and one fsync for a batch of writes.

    SQLite has one writer at a time and a durable commit costs an fsync, so committing each
    payment alone caps the rate at the disk's fsyncs per second, and threads queueing on the
    file lock sleep in SQLite's busy handler. Instead every write of this process is a job
    for the engine's writer thread: it takes all queued jobs, runs each inside a SAVEPOINT of
    one ``BEGIN IMMEDIATE`` transaction (a job that fails is rolled back to its savepoint
    alone), commits once, and only then completes the jobs' futures, so no caller hears
    "done" before its commit is durable. A ``write`` made by a job joins the batch's
    transaction. The thread ends after ``IDLE`` seconds without work and restarts on demand.
    """

    MAX_BATCH = 256
    IDLE = 5.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future]] = (
            queue.SimpleQueue()
        )
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        fut: Future[T] = Future()
        self.jobs.put((fn, fut))
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="sqlite-writer", daemon=True)
                self.thread.start()
        return fut

    def _loop(self) -> None:
        while True:
            try:
                batch = [self.jobs.get(timeout=self.IDLE)]
            except queue.Empty:
                with self.lock:
                    if self.jobs.empty():
                        self.thread = None
                        return
                continue
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[Connection], Any], Future]]) -> None:
        done: list[tuple[Future, Any, BaseException | None]] = []
        try:
            with self.engine.connect() as conn:
                raw: Any = conn.connection.driver_connection
                _tune(raw)
                begin_promptly(conn)
                _writer.conn = conn
                for fn, fut in batch:
                    done.append(_savepoint(raw, conn, fn, fut))
                conn.commit()  # an error rolls back as the connection closes
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            done = [(fut, None, exc) for _, fut in batch]
        finally:
            _writer.conn = None
        for fut, result, error in done:
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)


_writer = threading.local()
#: How long a writer waits for another process's write lock (gateway.db's busy timeout).
BUSY_TIMEOUT_MS = 30_000


def retry_pause(waited: float) -> float:
    """The sleep before the next try for the write lock, after ``waited`` seconds: 1-5 ms.

    SQLite's own busy handler sleeps up to 100 ms between tries, so a waiting writer
    oversleeps the few milliseconds an ingest leaves between its write transactions; short
    sleeps get the lock within milliseconds of the holder's commit (a failed try costs
    microseconds), longer ones once the holder is plainly in for a long hold.
    """
    return 0.001 if waited < 0.1 else 0.002 if waited < 1.0 else 0.005


def is_busy(exc: OperationalError) -> bool:
    """SQLite's SQLITE_BUSY ("database is locked"): another connection holds the lock."""
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def begin_promptly(conn: Connection) -> None:
    """BEGIN IMMEDIATE on ``conn``, trying again every few ms (``retry_pause``) up to
    ``BUSY_TIMEOUT_MS`` instead of waiting in SQLite's busy handler."""
    raw: Any = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        start = time.monotonic()
        while True:
            try:
                conn.begin()
                return
            except OperationalError as exc:
                waited = time.monotonic() - start
                if not is_busy(exc) or waited * 1000 >= BUSY_TIMEOUT_MS:
                    raise
            time.sleep(retry_pause(waited))
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class LoopWriter:
    """The event loop's SQLite writer: statements on the loop thread, the fsync in a thread.

    Same batching as ``GroupCommit``, but the jobs run on the event loop thread itself and
    only ``COMMIT`` (the fsync) goes to a worker thread. The writer's connection does not
    wait for locks: when another process holds the write lock, ``BEGIN IMMEDIATE`` is tried
    again on the loop every few milliseconds (``retry_pause``) while the loop serves others.
    Why: a separate writer thread and the event loop hand the interpreter back and forth on
    every SQLite call, and that, not SQLite, limited posting (docs/perf.md); a payment's
    statements are less CPU than the HTTP work around them, so the loop can afford them.
    """

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.loop = loop
        self.pending: list[tuple[Callable[[Connection], Any], asyncio.Future]] = []
        self.running = False
        #: The writer's connection, kept while there is work (no pool checkout per batch).
        self.conn: Connection | None = None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        fut: asyncio.Future = self.loop.create_future()
        self.pending.append((fn, fut))
        if not self.running:
            self.running = True
            self.loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self.pending:
                n = GroupCommit.MAX_BATCH
                batch, self.pending = self.pending[:n], self.pending[n:]
                await self._commit(batch)
        finally:
            self.running = False
            self._release()

    async def _commit(
        self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future]]
    ) -> None:
        try:
            done = await self._run_batch(batch)
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is stored
            done = [(fut, None, exc) for _, fut in batch]
        for fut, result, error in done:
            if fut.done():  # the caller went away (cancelled); the payment stands
                continue
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)

    async def _run_batch(
        self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future]]
    ) -> list[Done]:
        conn = await self._begin()
        try:
            raw: Any = conn.connection.driver_connection
            _writer.conn = conn
            try:
                done = [_savepoint(raw, conn, fn, fut) for fn, fut in batch]
            finally:
                _writer.conn = None
            await anyio.to_thread.run_sync(conn.commit)
            checkpoints(self.engine).wanted()
            return done
        except BaseException:
            self._release()  # rolls back what was not committed
            raise

    async def _begin(self) -> Connection:
        """BEGIN IMMEDIATE on the kept connection, on the loop: at once when the write lock
        is free (the usual case: this process is SQLite's only writer); else tried again
        after ``retry_pause`` (an ``asyncio.sleep``, the loop runs meanwhile), so the batch
        gets the lock within milliseconds of the other writer's commit."""
        conn = self._connection()
        start = time.monotonic()
        while True:
            try:
                conn.begin()
                return conn
            except OperationalError as exc:  # SQLITE_BUSY at once: another writer holds it
                waited = time.monotonic() - start
                if not is_busy(exc) or waited * 1000 >= BUSY_TIMEOUT_MS:
                    raise
            await asyncio.sleep(retry_pause(waited))

    def _connection(self) -> Connection:
        """The kept connection, opened with the API's pragmas and no busy wait."""
        if self.conn is None:
            conn = self.engine.connect()
            raw: Any = conn.connection.driver_connection
            _tune(raw)
            raw.execute("PRAGMA busy_timeout=0")
            raw.execute("PRAGMA wal_autocheckpoint=0")  # done by ``Checkpoints``, off the path
            self.conn = conn
        return self.conn

    def _release(self) -> None:
        """Give the connection back to the pool, on the loop thread (after a commit there is
        nothing to roll back, and a rollback never waits for a lock), waiting for locks and
        spilling temporary data to disk again like every other connection of the pool (a
        bulk job on it may sort more than memory should hold)."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                raw: Any = conn.connection.driver_connection
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                raw.execute("PRAGMA temp_store=DEFAULT")
                raw.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
            except Exception:  # a broken connection: not to be handed out again
                conn.invalidate()
            conn.close()


class Checkpoints:
    """WAL checkpoints for the event loop's writer, in a thread of their own.

    SQLite checkpoints the WAL in the commit that finds it over 1,000 pages, whichever
    connection commits: during an ingest (megabytes of WAL a second) that was often a post's
    commit, and every post queued behind it waited for the copy and its fsync (hundreds of
    ms). The loop's writer does not checkpoint (``wal_autocheckpoint=0``); after its commits
    this thread runs a PASSIVE checkpoint (it never waits for, nor blocks, a writer) at most
    every ``EVERY`` seconds, and ends after ``IDLE`` seconds without commits.
    """

    EVERY = 1.0
    IDLE = 30.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pending = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def wanted(self) -> None:
        self.pending.set()
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(
                        target=self._loop, name="sqlite-checkpoints", daemon=True
                    )
                    self.thread.start()

    def _loop(self) -> None:
        raw: Any = self.engine.raw_connection()
        try:
            while self.pending.wait(self.IDLE):
                self.pending.clear()
                with contextlib.suppress(sqlite3.Error):  # the next commit asks again
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                time.sleep(self.EVERY)
        finally:
            with self.lock:
                self.thread = None
            raw.close()


_CHECKPOINTS: weakref.WeakKeyDictionary[Engine, Checkpoints] = weakref.WeakKeyDictionary()


def checkpoints(engine: Engine) -> Checkpoints:
    with _GROUPS_LOCK:
        found = _CHECKPOINTS.get(engine)
        if found is None:
            found = _CHECKPOINTS[engine] = Checkpoints(engine)
    return found


def _savepoint(raw: Any, conn: Connection, fn: Callable[[Connection], Any], fut: Any) -> Done:
    """Run one job inside its own savepoint: (fut, result, None) or (fut, None, error)."""
    raw.execute("SAVEPOINT job")
    out: Done
    try:
        out = (fut, fn(conn), None)
    except Exception as exc:
        raw.execute("ROLLBACK TO job")
        out = (fut, None, exc)
    raw.execute("RELEASE job")
    return out


_LOOP_WRITERS: weakref.WeakKeyDictionary[Engine, LoopWriter] = weakref.WeakKeyDictionary()


async def write_async(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """``write`` for callers on an event loop: the loop's SQLite writer, else a worker thread."""
    if engine.dialect.name != "sqlite":
        return await anyio.to_thread.run_sync(write, engine, fn)
    loop = asyncio.get_running_loop()
    writer = _LOOP_WRITERS.get(engine)
    if writer is None or writer.loop is not loop:
        writer = _LOOP_WRITERS[engine] = LoopWriter(engine, loop)
    return await writer.run(fn)


def submit(engine: Engine, fn: Callable[[Connection], T]) -> Future[T]:
    """Queue ``fn(conn)`` on the SQLite engine's writer thread (see ``GroupCommit``)."""
    with _GROUPS_LOCK:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = GroupCommit(engine)
    return group.submit(fn)


def write(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """Run ``fn(conn)`` in a write transaction: group-committed on SQLite (see GroupCommit)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            return fn(conn)
    current = getattr(_writer, "conn", None)
    if current is not None and current.engine is engine:
        return fn(current)  # already a job on the writer thread: join its transaction
    return submit(engine, fn).result()
