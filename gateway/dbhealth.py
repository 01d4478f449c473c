"""Can the database take a write? What ``/health`` says besides "it answers a query".

A database on a full disk still answers reads, so a read ping said "ok" while every post got
an error. Two signs are used, neither of which writes anything itself:

- the last write of this process failed for lack of storage (disk full, quota, read-only,
  I/O error) and none has succeeded since (``note_write``, called by the writers);
- on SQLite, the file system holding the database has less than ``MIN_FREE_BYTES`` free
  (WAL frames and the checkpoint need room before any commit can succeed).
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from sqlalchemy import Engine

#: Below this much free space on SQLite's file system a commit may fail part-way.
MIN_FREE_BYTES = 1 << 20
#: PostgreSQL: insufficient resources (53xxx: disk full, out of memory), read-only, I/O.
_PG_STORAGE_STATES = ("53", "25006", "58030")
_SQLITE_STORAGE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")

_failures: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def storage_failure(exc: BaseException) -> str | None:
    """A short reason when ``exc`` says the database cannot store data, else None."""
    inner = getattr(exc, "orig", None) or exc
    state = getattr(inner, "sqlstate", None)
    if state and state.startswith(_PG_STORAGE_STATES):
        return f"database cannot write ({type(inner).__name__}, SQLSTATE {state})"
    name = getattr(inner, "sqlite_errorname", None) or ""
    if name.startswith(_SQLITE_STORAGE) or "disk is full" in str(inner):
        return f"database cannot write ({name or 'SQLITE_FULL'})"
    return None


def note_write(engine: Engine, error: BaseException | None) -> None:
    """Record the outcome of a write: a storage failure is remembered until a write works."""
    reason = storage_failure(error) if error is not None else None
    with _lock:
        if reason is not None:
            _failures[engine] = reason
        elif error is None:
            _failures.pop(engine, None)


def cannot_write(engine: Engine) -> str | None:
    """Why the database cannot take a write now, or None when nothing says so."""
    with _lock:
        failed = _failures.get(engine)
    if failed is not None:
        return failed
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if path and path != ":memory:":
        folder = Path(path).resolve().parent
        try:
            st = os.statvfs(folder)
        except OSError:
            return f"database folder {folder} is not reachable"
        free = st.f_bavail * st.f_frsize
        if free < MIN_FREE_BYTES:
            return f"database disk is full ({free // 1024} KiB free)"
    return None
