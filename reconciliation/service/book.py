"""The city's accounts as the matcher reads them, names loaded only where asked for."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, ValuesView
from typing import Any

from sqlalchemy import Connection

from reconciliation.model import AccountInfo
from reconciliation.service.load import load_account_infos, rows_of
from reconciliation.service.names import shared_names

_OPEN = "open"


class AccountBook(Mapping[str, AccountInfo]):
    """Every account's number and status; payer names and addresses only where asked for.

    The matcher asks three things of the city's accounts: does this number exist, is it
    open (``get``), and, for a few records, does the payer's name resemble the holder
    (``book[account_no]``). Every holder's name and address is a lot of memory (docs/perf.md)
    and a keyword-anchored account never needs its holder's name, so names are loaded only for
    the accounts the matcher asked about by ``[]`` (``asked``; the service loads them with
    ``preload`` and matches those records again). Accounts not loaded read with empty
    names, which only ever weakens a match into review, never strengthens one. Name
    suggestions come from the city's name index (``names``, kept per process and database
    by ``reconciliation.service.names``), not from the book.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # account_no -> id, for the rows written; built by dict() from the cursor, in C
        self.ids: dict[str, int] = dict(
            rows_of(conn.exec_driver_sql("SELECT account_no, id FROM accounts"))
        )
        shared = {"closed": "closed"}
        self._other: dict[str, Any] = {  # the few accounts not open, with their status
            a: shared.get(st, st)
            for a, st in rows_of(
                conn.exec_driver_sql(
                    "SELECT account_no, status FROM accounts WHERE status <> 'open'"
                )
            )
        }
        self._full: dict[str, AccountInfo] = {}
        self._all = False
        self.asked: set[str] = set()  # asked for by name and read without one
        self.names = shared_names(conn)  # the name index, looked up once for the whole file

    def preload(self, account_nos: Collection[str]) -> set[str]:
        """Load names for these accounts (those read without one: ``asked``); returns them
        all, so that every record that read one of them nameless is matched again, also when
        ``values()`` has meanwhile loaded every name (the outcome must not depend on order)."""
        known = {a for a in account_nos if a in self.ids}
        todo = {a for a in known if a not in self._full}
        if todo and not self._all:
            self._full.update((i.account_no, i) for i in load_account_infos(self._conn, todo))
        self.asked -= known
        return known

    def __getitem__(self, account_no: str) -> AccountInfo:
        info = self._full.get(account_no)
        if info is None:
            if account_no not in self.ids:
                raise KeyError(account_no)
            info = AccountInfo(account_no, "", "", self._other.get(account_no, _OPEN))
            self.asked.add(account_no)
        return info

    def get(  # type: ignore[override]  # Mapping.get's overloads, narrowed: an AccountInfo default
        self, account_no: str, default: AccountInfo | None = None
    ) -> AccountInfo | None:
        # Existence and status only: not noted in ``asked``, and cheaper than Mapping.get
        # (no KeyError); the matcher asks this for every number of every payment.
        info = self._full.get(account_no)
        if info is not None:
            return info
        if account_no not in self.ids:
            return default
        return AccountInfo(account_no, "", "", self._other.get(account_no, _OPEN))

    def __contains__(self, account_no: object) -> bool:
        return account_no in self.ids

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def values(self) -> ValuesView[AccountInfo]:
        if not self._all:
            self._full = {i.account_no: i for i in load_account_infos(self._conn)}
            self._all = True
        return self._full.values()
