"""The city's holder-name index (``reconciliation.names``), built once per process and
database and shared by every round of every file.

Built on the first payment that needs name suggestions, from one read of the open accounts
(about 2 s and 40 MB at seed scale); kept until the accounts change. What "change" means
is a fingerprint read with each file's first name query: the count, highest id and total
name-and-address length of the open accounts, and the latest register import (one scan of
the accounts, ~50 ms at seed scale). Accounts are written only by the register import, so
in practice the index lives until the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection

from reconciliation.names import NameIndex
from reconciliation.service.load import rows_of

_FINGERPRINT = (
    "SELECT count(*), coalesce(max(id), 0),"
    " coalesce(sum(length(payer_name) + length(address)), 0),"
    " (SELECT coalesce(max(id), 0) FROM register_imports)"
    " FROM accounts WHERE status = 'open'"
)
_ROWS = "SELECT account_no, payer_name, address FROM accounts WHERE status = 'open' ORDER BY id"
_KEEP = 2  # databases whose index a process keeps (a server has one; tests make many)

_lock = threading.Lock()
_indexes: dict[str, tuple[tuple[int, ...], NameIndex]] = {}


def shared_names(conn: Connection) -> Callable[[], NameIndex]:
    """A function returning the database's name index, current as seen by ``conn``.

    Called lazily by the matcher, so a file without name-only payments never builds it.
    """
    memo: list[NameIndex] = []

    def get() -> NameIndex:
        if not memo:
            memo.append(_current(conn))
        return memo[0]

    return get


def _current(conn: Connection) -> NameIndex:
    key = conn.engine.url.render_as_string(hide_password=True)
    stamp = tuple(int(x) for x in conn.exec_driver_sql(_FINGERPRINT).one())
    with _lock:
        held = _indexes.get(key)
        if held is not None and held[0] == stamp:
            return held[1]
        _indexes.pop(key, None)  # let the old index go before the new one is built
        while len(_indexes) >= _KEEP:
            _indexes.pop(next(iter(_indexes)))
        index = NameIndex(rows_of(conn.exec_driver_sql(_ROWS)))
        _indexes[key] = (stamp, index)
        return index


def forget() -> None:
    """Drop every held index (tests; a process that wants its memory back)."""
    with _lock:
        _indexes.clear()
