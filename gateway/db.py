"""Engine creation: one place that knows the two backends' quirks.

``GATEWAY_DATABASE_URL`` takes a plain SQLAlchemy URL; we pick the driver (psycopg 3 for
PostgreSQL), and on SQLite we turn on WAL, foreign keys and a busy timeout on every
connection, because several threads of one server (and the CLI beside it) share the file.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

import structlog
from sqlalchemy import Connection, Engine, Row, create_engine, event, text
from sqlalchemy.engine import make_url

#: ``q(sql, params) -> rows``: one statement of a read snapshot (see ``snapshot``).
Query = Callable[[str, dict[str, Any]], list[tuple]]

#: A result row of any width, read by column name (``Row[Any]`` is a row of one column).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]

#: Pragmas of the API's own SQLite connections (the kept readers, the group-commit writer):
#: a bigger page cache, the file mapped, savepoint journals in memory (docs/perf.md).
SQLITE_PRAGMAS = (
    "PRAGMA cache_size=-131072",
    "PRAGMA mmap_size=1073741824",
    "PRAGMA temp_store=MEMORY",
)


def normalise_url(url: str) -> str:
    """Pick our driver for a plain URL: postgresql:// -> postgresql+psycopg://."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("hide_parameters", True)  # error texts must not carry payers' data
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we emit it ourselves so that a
        # writer takes the write lock at once (BEGIN IMMEDIATE): a deferred transaction that
        # read first and then writes fails with SQLITE_BUSY when another writer committed in
        # between. Readers opt out with ``reading(engine)`` and never queue behind writers.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("hide_parameters", True)
    # The gateway's queries are short; PostgreSQL's JIT compiled ~0.7 s into every lines
    # query of an ingest round whose estimate looked expensive, to save milliseconds.
    args = dict(kwargs.pop("connect_args", None) or {})
    args["options"] = f"-c jit=off {args.get('options', '')}".strip()
    return create_engine(url, pool_pre_ping=True, connect_args=args, **kwargs)


def _sqlite_begin(conn: Connection) -> None:
    deferred = conn.get_execution_options().get("sqlite_deferred", False)
    conn.exec_driver_sql("BEGIN DEFERRED" if deferred else "BEGIN IMMEDIATE")


def reading(engine: Engine) -> Connection:
    """A connection for reads only: on SQLite its transactions do not take the write lock."""
    return engine.connect().execution_options(sqlite_deferred=True)


_readers = threading.local()


def _sqlite_reader(engine: Engine) -> Any:
    """This thread's own read connection to the engine's SQLite file, kept open.

    Taken from the engine's pool once (so it has the engine's pragmas) and never returned:
    a lookup then costs its query alone, not a pool checkout and a SQLAlchemy Connection.
    """
    cache = getattr(_readers, "by_engine", None)
    if cache is None:
        cache = _readers.by_engine = weakref.WeakKeyDictionary()
    conn = cache.get(engine)
    if conn is None:
        conn = cache[engine] = engine.raw_connection()
        raw: Any = conn.driver_connection
        for pragma in SQLITE_PRAGMAS:
            raw.execute(pragma)
    return conn.driver_connection


@lru_cache(maxsize=256)
def pyformat(sql: str) -> str:
    """``:name`` parameters -> psycopg's ``%(name)s`` (``::type`` casts left alone)."""
    return re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", sql)


def read_rows(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple]:
    """The rows of one read-only statement (``:name`` parameters); one statement is one
    snapshot on both backends.

    On SQLite it runs on this thread's kept reader in autocommit mode: no BEGIN and COMMIT
    around it, and SQLite's read transaction ends when the rows are fetched. On PostgreSQL
    it takes a pooled DBAPI connection and runs the plain SQL through psycopg, which
    prepares a statement it has run a few times.
    """
    if engine.dialect.name == "sqlite":
        return _sqlite_reader(engine).execute(sql, params).fetchall()
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute(pyformat(sql), params)
        return list(cur.fetchall())
    finally:
        conn.close()  # back to the pool, which rolls the read transaction back


@contextmanager
def snapshot(engine: Engine) -> Iterator[Query]:
    """Several plain-SQL reads in one read-only snapshot: ``q(sql, params) -> rows``.

    On SQLite on this thread's kept reader (see ``read_rows``); elsewhere on a pooled
    connection. For reads through SQLAlchemy Core use ``reading``.
    """
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            yield lambda sql, params: list(conn.execute(text(sql), params).all())
        return
    raw = _sqlite_reader(engine)
    raw.execute("BEGIN")
    try:
        yield lambda sql, params: raw.execute(sql, params).fetchall()
    finally:
        raw.execute("COMMIT")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")  # a posted payment survives a power cut
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with reading(engine) as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # the caller reports "unavailable"; the reason goes to the log
        structlog.get_logger("gateway.db").warning("database unavailable", error=type(exc).__name__)
        return False


@contextmanager
def sqlite_cache(conn: Connection, megabytes: int) -> Iterator[None]:
    """On SQLite, a bigger page cache for one bulk job on this connection, then the default.

    Millions of index entries do not fit SQLite's default 2 MB cache; with it the indexes
    thrash during bulk writes. PostgreSQL sizes its own buffers: a no-op there.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{megabytes * 1024}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


@contextmanager
def bulk_transaction(engine: Engine, cache_mb: int) -> Iterator[Connection]:
    """One write transaction for a bulk job; on SQLite without per-row foreign-key checks
    and with a bigger page cache.

    For the callers (register import, file ingest) whose every id comes from rows they
    inserted, reserved or read inside this same transaction, which holds SQLite's write
    lock (BEGIN IMMEDIATE): a dangling reference cannot be produced, and SQLite's per-row
    checks (five per allocation row) would only cost time. The pragma must be set outside a
    transaction and is restored afterwards; PostgreSQL keeps its checks.
    """
    with engine.connect() as conn:
        # through the driver: a statement via SQLAlchemy would open the transaction first
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin(), sqlite_cache(conn, cache_mb):
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def as_utc(moment: datetime) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite hands them back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
