"""The one DB-aware module of reconciliation: load a batch's world once, persist results in bulk.

The pure core (match.py, allocate.py) never sees a connection. Callers (the file ingest, the
bank API, the review queue) use these functions to load what a batch needs in one or two
queries, run the core in memory, and write payments and allocations with set-based inserts.
What is "open" on an invoice line is always derived (amount due minus the sum of its
allocations), never stored, because allocations are append-only.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, cast, func, insert, select, update

from reconciliation.allocate import AllocationError, apply_advance, open_after
from reconciliation.match import (
    CityIndex,
    DuplicateFlag,
    SeenPayment,
    allocate_decision,
    flag_duplicates,
    match,
    match_batch,
)
from reconciliation.model import (
    AccountInfo,
    AllocationRow,
    Candidate,
    Decision,
    OpenLine,
    PaymentRecord,
)
from reconciliation.references import damm_digit, normalize_account_no, normalize_rf
from reconciliation.review import ReasonCode
from reconciliation.settlement import Collector, Credit, RegistryBatch, identify, settle
from schemas.bulk import bulk_insert, db_value, in_keys, keyset, reserve_ids
from schemas.tables import (
    accounts,
    allocations,
    invoice_lines,
    invoices,
    payments,
    providers,
    review_items,
    services,
    settlements,
)

BUSINESS_TZ = ZoneInfo("Europe/Chisinau")


def business_today() -> date:
    """Today in Chisinau: the business day a correction made now belongs to."""
    return datetime.now(BUSINESS_TZ).date()


# SQLite caps bound parameters per statement; chunk IN lists well below it.
_IN_CHUNK = 900


@dataclass(frozen=True)
class RefIds:
    """Code -> id maps for the small reference tables, loaded once per batch."""

    services: dict[str, int]
    providers: dict[str, int]

    @classmethod
    def load(cls, conn: Connection) -> RefIds:
        return cls(
            services=dict(conn.execute(select(services.c.code, services.c.id)).all()),
            providers=dict(conn.execute(select(providers.c.code, providers.c.id)).all()),
        )

    def by_id(self) -> tuple[dict[int, str], dict[int, str]]:
        """id -> code for services and providers (the codes are shared, interned strings)."""
        return (
            {i: c for c, i in self.services.items()},
            {i: c for c, i in self.providers.items()},
        )


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_accounts(conn: Connection, account_nos: Collection[str] | None = None) -> dict[str, int]:
    """account_no -> id, for the given numbers or for the whole city."""
    q = select(accounts.c.account_no, accounts.c.id)
    if account_nos is None:
        return dict(conn.execute(q).all())
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(account_nos))):
        out.update(conn.execute(q.where(accounts.c.account_no.in_(chunk))).all())
    return out


def load_account_infos(
    conn: Connection, account_nos: Collection[str] | None = None
) -> list[AccountInfo]:
    """Accounts as the matcher sees them (number, payer, address, status); all, or some.

    Read through the raw driver cursor: 213,377 rows through the Result machinery cost
    seconds that a batch should not pay.
    """
    status = {"open": "open", "closed": "closed"}  # one shared string per status
    sql = "SELECT account_no, payer_name, address, status FROM accounts"
    if account_nos is None:
        rows = conn.exec_driver_sql(sql).cursor.fetchall()
    elif len(account_nos) <= _IN_CHUNK:
        marks = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in account_nos)
        rows = conn.exec_driver_sql(
            f"{sql} WHERE account_no IN ({marks})", tuple(account_nos)
        ).cursor.fetchall()
    else:
        keyset(conn, "account_infos", account_nos)
        rows = conn.exec_driver_sql(
            f"{sql} WHERE account_no IN (SELECT k FROM tmp_account_infos)"
        ).cursor.fetchall()
    return [AccountInfo(a, n, ad, status.get(st, st)) for a, n, ad, st in rows]


class AccountBook(Mapping[str, AccountInfo]):
    """Every account's number and status; payer names and addresses only where asked for.

    The matcher asks three things of the city's accounts: does this number exist, is it
    open (``get``), and, for a few records, does the payer's name resemble the holder
    (``book[account_no]``). Holding all 213,377 names and addresses costs ~110 MB, and a
    keyword-anchored account never needs its holder's name, so names are loaded only for
    the accounts the matcher asked about by ``[]`` (``asked``; the service loads them with
    ``preload`` and matches those records again), and for all accounts only when the
    fuzzy-name index is built (``values()``: a payment that gives nothing but a name).
    Accounts not loaded read with empty names, which only ever weakens a match into review,
    never strengthens one.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        cursor = conn.exec_driver_sql("SELECT account_no, status, id FROM accounts").cursor
        shared = {"open": "open", "closed": "closed"}
        self._status: dict[str, str] = {}
        self.ids: dict[str, int] = {}  # account_no -> id, for the rows written
        for a, st, i in cursor:
            self._status[a] = shared.get(st, st)
            self.ids[a] = i
        self._full: dict[str, AccountInfo] = {}
        self._all = False
        self.asked: set[str] = set()  # asked for by name and read without one

    def preload(self, account_nos: Collection[str]) -> set[str]:
        """Load names for these accounts; returns those that were not loaded before."""
        todo = {a for a in account_nos if a in self._status and a not in self._full}
        if todo and not self._all:
            self._full.update((i.account_no, i) for i in load_account_infos(self._conn, todo))
        self.asked -= todo
        return todo

    def __getitem__(self, account_no: str) -> AccountInfo:
        info = self._full.get(account_no)
        if info is None:
            info = AccountInfo(account_no, "", "", self._status[account_no])
            self.asked.add(account_no)
        return info

    def get(  # type: ignore[override]
        self, account_no: str, default: AccountInfo | None = None
    ) -> AccountInfo | None:
        # Existence and status only: not noted in ``asked``, and cheaper than Mapping.get
        # (no KeyError); the matcher asks this for every number of every payment.
        info = self._full.get(account_no)
        if info is not None:
            return info
        status = self._status.get(account_no)
        return default if status is None else AccountInfo(account_no, "", "", status)

    def __contains__(self, account_no: object) -> bool:
        return account_no in self._status

    def __iter__(self) -> Iterator[str]:
        return iter(self._status)

    def __len__(self) -> int:
        return len(self._status)

    def values(self):  # type: ignore[override]
        if not self._all:
            self._full = {i.account_no: i for i in load_account_infos(self._conn)}
            self._all = True
        return self._full.values()


def _lines_query():  # type: ignore[no-untyped-def]
    """Open invoices' lines as ``OpenLine`` fields in order, what is still open computed by
    the database (amount due minus the line's allocations, through the line index), grouped
    by account and oldest period first."""
    a = allocations
    paid = (
        select(func.coalesce(func.sum(a.c.amount), 0))
        .where(a.c.invoice_line_id == invoice_lines.c.id)
        .scalar_subquery()
    )
    return (
        select(
            invoice_lines.c.id,
            invoices.c.invoice_no,
            accounts.c.account_no,
            invoices.c.period,
            invoice_lines.c.service_id,
            invoice_lines.c.provider_id,
            cast(invoice_lines.c.amount_due - paid, BigInteger),
        )
        .select_from(invoice_lines)
        .join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .where(invoices.c.status == "open")
        .order_by(
            accounts.c.account_no, invoices.c.period, invoices.c.invoice_no, invoice_lines.c.id
        )
    )


def load_open_lines(
    conn: Connection, account_nos: Collection[str] | None = None
) -> dict[str, list[OpenLine]]:
    """account_no -> its open-invoice lines with what is still open, oldest period first.

    Lines fully paid are kept (open_amount 0): the allocator needs to see them to know a
    named service was billed. One query; a large account set goes through a temporary key
    table, not an IN list. Rows come straight from the driver cursor (a round of 10,000
    payments reads ~85,000 lines); service and provider ids become their shared code strings
    (the codes as the driver reads them would be two new strings per line).
    """
    q = _lines_query()
    if account_nos is not None:
        if len(account_nos) <= _IN_CHUNK:
            q = q.where(accounts.c.account_no.in_(sorted(set(account_nos))))
        else:
            keys = keyset(conn, "accounts", account_nos)
            q = q.where(in_keys(accounts.c.account_no, keys))
    service_code, provider_code = (m.__getitem__ for m in RefIds.load(conn).by_id())
    new = tuple.__new__
    out: dict[str, list[OpenLine]] = {}
    group: list[OpenLine] = []
    current = None
    for lid, inv, acc, period, sid, pid, left in conn.execute(q).cursor:
        if acc != current:
            current, group = acc, []
            out[acc] = group
        fields = (lid, inv, current, period, service_code(sid), provider_code(pid), left)
        group.append(new(OpenLine, fields))
    return out


def load_advance_credit(
    conn: Connection, account_nos: Collection[str] | None = None
) -> dict[str, int]:
    """account_no -> advance credit (bani) not yet consumed by invoices."""
    q = (
        select(accounts.c.account_no, func.sum(allocations.c.amount))
        .join(accounts, accounts.c.id == allocations.c.account_id)
        .where(allocations.c.invoice_line_id.is_(None))
        .group_by(accounts.c.account_no)
    )
    out: dict[str, int] = {}
    if account_nos is None:
        out.update((a, int(s)) for a, s in conn.execute(q))
    else:
        for chunk in _chunks(sorted(set(account_nos))):
            out.update(
                (a, int(s)) for a, s in conn.execute(q.where(accounts.c.account_no.in_(chunk)))
            )
    return {a: s for a, s in out.items() if s}


def allocation_kind(row: AllocationRow) -> str:
    if row.amount < 0:
        return "reversal"
    return "advance" if row.line_id is None else "payment"


ALLOCATION_COLUMNS = (
    "id",
    "payment_id",
    "account_id",
    "invoice_line_id",
    "service_id",
    "provider_id",
    "amount",
    "kind",
    "reverses_id",
    "business_day",
    "created_by",
    "created_at",
)


def insert_allocations(
    conn: Connection,
    placed: Sequence[tuple[int, AllocationRow]],
    *,
    account_ids: Mapping[str, int],
    refs: RefIds,
    business_day: date | dict[int, date],
    created_by: str,
    kind: str | None = None,
) -> int:
    """Write (payment_id, row) pairs in one bulk insert; returns the number of rows.

    ``business_day`` is one day for all rows or a payment_id -> day map (a file may span
    several booking days).
    """
    ids = reserve_ids(conn, allocations, len(placed))
    now = db_value(conn, datetime.now(UTC))
    svc, prov = refs.services.get, refs.providers.get  # get(None) is None: advance rows
    if isinstance(business_day, dict):
        day_of = {pid: db_value(conn, d) for pid, d in business_day.items()}
    else:
        day_of = dict.fromkeys((pid for pid, _ in placed), db_value(conn, business_day))
    # One tuple per row in a comprehension: this runs for every allocated line of a day.
    rows = [
        (
            aid,
            pid,
            account_ids[row.account_no],
            row.line_id,
            svc(row.service_code),
            prov(row.provider_code),
            row.amount,
            kind or allocation_kind(row),
            None,
            day_of[pid],
            created_by,
            now,
        )
        for aid, (pid, row) in zip(ids, placed, strict=True)
    ]
    return bulk_insert(conn, allocations, ALLOCATION_COLUMNS, rows)


def reverse_allocations(
    conn: Connection, payment_id: int, *, business_day: date, created_by: str
) -> int:
    """Post a compensating row for every allocation of ``payment_id`` not yet compensated.

    Idempotent: a row that already has its compensation is skipped, so a retried storno
    never reverses twice. The rows land on ``business_day`` (the day the correction is made).
    """
    a = allocations
    compensated = select(a.c.reverses_id).where(
        a.c.payment_id == payment_id, a.c.reverses_id.is_not(None)
    )
    originals = conn.execute(
        select(a).where(
            a.c.payment_id == payment_id,
            a.c.reverses_id.is_(None),
            a.c.kind != "reversal",
            a.c.id.not_in(compensated),
        )
    ).all()
    now = datetime.now(UTC)
    rows = [
        {
            "payment_id": payment_id,
            "account_id": r.account_id,
            "invoice_line_id": r.invoice_line_id,
            "service_id": r.service_id,
            "provider_id": r.provider_id,
            "amount": -r.amount,
            "kind": "reversal",
            "reverses_id": r.id,
            "business_day": business_day,
            "created_by": created_by,
            "created_at": now,
        }
        for r in originals
    ]
    if rows:
        conn.execute(insert(a), rows)
    return len(rows)


# --- applying a batch of parsed records ---------------------------------------------------------

CHANNEL_BY_FORMAT = {
    "camt053": "transfer",
    "mt940": "transfer",
    "camt054": "bank_itemised",
    "post_registry": "post",
    "terminal": "terminal",
    "compensation": "compensation",
}


@dataclass
class Planned:
    """What one record becomes: a payment row, its allocation rows, maybe a review item."""

    record: PaymentRecord
    status: str
    channel: str
    business_day: date
    account_no: str | None = None
    reason: str | None = None
    rows: list[AllocationRow] = field(default_factory=list)
    candidates: tuple[Candidate, ...] = ()
    reverses_payment_id: int | None = None


#: Credits matched and written per round: bounds the memory a 100,000-entry statement
#: needs (the open lines of one round's accounts), inside the one transaction.
ROUND_SIZE = 10_000


def apply_records(
    conn: Connection,
    records: Iterable[PaymentRecord],
    *,
    source: str,
    raw_file_id: int | None,
    actor: str,
    collectors: Sequence[Collector] = (),
    today: date | None = None,
) -> dict[str, int]:
    """Persist, match and allocate a parsed file's records inside the caller's transaction.

    Set-based, in rounds of ``ROUND_SIZE`` records taken from ``records`` as they come (a
    list, or a parser still reading the file: nothing needs the whole file at once): per
    round one query for known ids, one load of the accounts' lines its credits mention,
    matching and allocation in memory, and bulk inserts. A later round sees what earlier
    rounds paid (same transaction). Lump sums, debits and reversals go last, so a reversal
    finds its original from the same file. Returns counts by outcome, ``records`` included.
    An exception from ``records`` (a bad file found late) propagates, and the caller's
    rollback leaves nothing of the file.
    """
    day = today or business_today()
    counts: dict[str, int] = defaultdict(int)
    # after all credits: collectors' lump sums, debits, then reversals
    lump_sums: list[PaymentRecord] = []
    debits: list[PaymentRecord] = []
    reversals: list[PaymentRecord] = []
    book: AccountBook | None = None
    it = iter(records)
    seen: dict[str, int] = {}
    while chunk := [_repeat_identity(_reversal_identity(r), seen) for r in islice(it, ROUND_SIZE)]:
        counts["records"] += len(chunk)
        fresh = _drop_known(conn, source, chunk)
        counts["skipped_known"] += len(chunk) - len(fresh)
        reversals += [r for r in fresh if r.reversal]
        debits += [r for r in fresh if r.direction == "debit" and not r.reversal]
        credits = [r for r in fresh if r.direction == "credit" and not r.reversal]
        lumps, credits = _split_lump_sums(credits, collectors)
        lump_sums += lumps
        if credits:
            book = book or AccountBook(conn)
            plans = _plan_credits(conn, credits, day, source, book)
            _persist(
                conn,
                plans,
                source=source,
                raw_file_id=raw_file_id,
                actor=actor,
                counts=counts,
                account_ids=book.ids,
            )
    others = [_plan_lump_sum(r, day) for r in lump_sums]
    others += [_plan_other(r, day, "rejected", "NOT_A_PAYMENT") for r in debits]
    _persist(conn, others, source=source, raw_file_id=raw_file_id, actor=actor, counts=counts)
    planned = _plan_reversals(conn, reversals, day)
    _persist(conn, planned, source=source, raw_file_id=raw_file_id, actor=actor, counts=counts)
    counts["settlement_lines"] = settle_pending(conn, collectors, today=day)
    return dict(counts)


def _reversal_identity(record: PaymentRecord) -> PaymentRecord:
    """Banks often repeat the original's reference on its reversal; a reversal is a payment
    of its own, so its identity gets a ``rvsl:`` prefix instead of colliding with the original."""
    if record.reversal and not record.external_id.startswith("rvsl:"):
        return replace(record, external_id=f"rvsl:{record.external_id}")
    return record


def _repeat_identity(record: PaymentRecord, seen: dict[str, int]) -> PaymentRecord:
    """A bank reference that appears twice in one file is two entries, not one payment: the
    second gets ``<id>~2`` (stable, so a re-sent file maps it to the same payment again),
    and the duplicate check sends it to review for sharing the bank reference."""
    n = seen.get(record.external_id, 0) + 1
    seen[record.external_id] = n
    return record if n == 1 else replace(record, external_id=f"{record.external_id}~{n}")


def _drop_known(
    conn: Connection, source: str, records: Sequence[PaymentRecord]
) -> list[PaymentRecord]:
    """The records not yet stored under (source, external_id): re-sent files and
    overlapping statements apply only what is new."""
    q = select(payments.c.external_id).where(payments.c.source == source)
    ids = [r.external_id for r in records]
    if len(ids) <= _IN_CHUNK:
        known = set(conn.execute(q.where(payments.c.external_id.in_(ids))).scalars())
    else:
        keys = keyset(conn, "external_ids", ids)
        known = set(conn.execute(q.where(in_keys(payments.c.external_id, keys))).scalars())
    return [r for r in records if r.external_id not in known]


def _day(record: PaymentRecord, fallback: date) -> date:
    return record.business_day() or fallback


def _channel(record: PaymentRecord) -> str:
    return CHANNEL_BY_FORMAT.get(record.source_format, "transfer")


def _plan_other(record: PaymentRecord, fallback: date, status: str, reason: str) -> Planned:
    return Planned(record, status, _channel(record), _day(record, fallback), reason=reason)


def _plan_reversals(
    conn: Connection, records: Sequence[PaymentRecord], fallback: date
) -> list[Planned]:
    """A bank's reversal finds its original by bank reference and amount, and compensates it.

    The original is looked up among all sources (a reversal may arrive on the statement for a
    payment first seen elsewhere) by account servicer reference, then end-to-end id. Found
    and placed: the reversal is ``reversed`` and points at it; not found: review.
    """
    plans = []
    for r in records:
        original = _find_original(conn, r)
        if original is None:
            plans.append(_plan_other(r, fallback, "review", "REVERSAL_UNMATCHED"))
            continue
        plan = _plan_other(r, fallback, "reversed", None)  # type: ignore[arg-type]
        plan.reason = None
        plan.account_no = original.account_no
        plan.reverses_payment_id = original.id
        plans.append(plan)
    return plans


def _find_original(conn: Connection, r: PaymentRecord):  # type: ignore[no-untyped-def]
    p = payments
    for col, value in (
        (p.c.account_servicer_ref, r.account_servicer_ref),
        (p.c.end_to_end_id, r.end_to_end_id),
    ):
        if not value:
            continue
        row = conn.execute(
            select(p.c.id, p.c.account_no, p.c.status)
            .where(col == value, p.c.amount == r.amount, p.c.reversal.is_(False))
            .where(p.c.status != "reversed")
            .order_by(p.c.id)
            .limit(1)
        ).first()
        if row is not None:
            return row
    return None


def _persist(
    conn: Connection,
    plans: Sequence[Planned],
    *,
    source: str,
    raw_file_id: int | None,
    actor: str,
    counts: dict[str, int],
    account_ids: Mapping[str, int] | None = None,
) -> None:
    """Bulk-insert payments (ids reserved up front), then their allocations and review items.

    ``account_ids`` is the whole city's account_no -> id when the caller has it (else the
    accounts the rows name are looked up)."""
    for p in plans:
        counts[p.status] += 1
    if not plans:
        return
    now = datetime.now(UTC)
    stamp, day = db_value(conn, now), _day_value(conn)
    ids = reserve_ids(conn, payments, len(plans))
    bulk_insert(
        conn,
        payments,
        PAYMENT_COLUMNS,
        [
            _payment_row(conn, pid, p, source, raw_file_id, stamp, day)
            for pid, p in zip(ids, plans, strict=True)
        ],
    )
    if account_ids is None:
        account_ids = load_accounts(conn, {r.account_no for p in plans for r in p.rows})
    placed = [(pid, row) for pid, p in zip(ids, plans, strict=True) for row in p.rows]
    days = {pid: p.business_day for pid, p in zip(ids, plans, strict=True)}
    insert_allocations(
        conn,
        placed,
        account_ids=account_ids,
        refs=RefIds.load(conn),
        business_day=days,
        created_by=actor,
    )
    _apply_reversals(conn, plans, actor)
    reviews = [(pid, p) for pid, p in zip(ids, plans, strict=True) if p.status == "review"]
    review_ids = reserve_ids(conn, review_items, len(reviews))
    bulk_insert(
        conn,
        review_items,
        ("id", "payment_id", "reason", "candidates", "state", "created_at"),
        [
            (
                rid,
                pid,
                p.reason or "NO_REFERENCE",
                db_value(conn, _candidates(p)),
                "open",
                db_value(conn, now),
            )
            for rid, (pid, p) in zip(review_ids, reviews, strict=True)
        ],
    )


def _candidates(p: Planned) -> list[dict]:
    return [
        {"account_no": c.account_no, "score": round(c.score, 3), "reason": c.reason}
        for c in p.candidates
    ]


def _apply_reversals(conn: Connection, plans: Sequence[Planned], actor: str) -> None:
    for p in plans:
        if p.reverses_payment_id is None:
            continue
        reverse_allocations(
            conn, p.reverses_payment_id, business_day=p.business_day, created_by=actor
        )
        conn.execute(
            update(payments).where(payments.c.id == p.reverses_payment_id).values(status="reversed")
        )


PAYMENT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "channel",
    "collector",
    "business_day",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "direction",
    "reversal",
    "end_to_end_id",
    "account_servicer_ref",
    "remittance",
    "debtor_name",
    "debtor_iban",
    "given_account_no",
    "given_invoice_no",
    "payment_ref",
    "services",
    "batch_ref",
    "period",
    "status",
    "account_no",
    "reason",
    "raw_file_id",
    "reverses_payment_id",
    "created_at",
)


def _payment_row(
    conn: Connection,
    pid: int,
    p: Planned,
    source: str,
    raw_file_id: int | None,
    now: object,
    day: Callable[[date | None], object],
) -> tuple:
    """The PAYMENT_COLUMNS of one plan, driver-ready (``now`` already is, ``day`` converts
    dates: both chosen once per batch in ``_persist``)."""
    r = p.record
    services_json = (
        db_value(conn, [{"service_code": s.service_code, "amount": s.amount} for s in r.services])
        if r.services
        else None
    )
    return (
        pid,
        source,
        r.external_id,
        p.channel,
        r.collector,
        day(p.business_day),
        day(r.booking_date),
        day(r.value_date),
        r.amount,
        r.currency,
        r.direction,
        r.reversal,
        r.end_to_end_id,
        r.account_servicer_ref,
        r.remittance,
        r.debtor_name,
        r.debtor_iban,
        r.account_no,
        r.invoice_no,
        r.payment_ref,
        services_json,
        r.batch_ref,
        r.period,
        p.status,
        p.account_no,
        p.reason,
        raw_file_id,
        p.reverses_payment_id,
        now,
    )


def _day_value(conn: Connection) -> Callable[[date | None], object]:
    """Dates as the driver takes them, memoised: a file's payments share a few days, and
    the SQLite driver's own adapter is a Python call per value."""
    if conn.dialect.name != "sqlite":
        return _same
    return _iso_day


def _same(value: date | None) -> object:
    return value


@lru_cache(maxsize=1024)
def _iso_day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


DUPLICATE_WINDOW_DAYS = 3

_NUMBERISH = re.compile(r"\d(?:[\d \-/.]{5,14})\d")
_INVOICE_LIKE = re.compile(r"\b[a-z]{2}\d{11}\b", re.IGNORECASE)
_RF_LIKE = re.compile(r"\brf\s?\d{2}(?:\s?[0-9a-z]){1,21}\b", re.IGNORECASE)


@dataclass
class _Mentions:
    """What a batch could point at, found cheaply, so only those rows are loaded."""

    accounts: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)


def _mentions(records: Sequence[PaymentRecord]) -> _Mentions:
    m = _Mentions()
    for r in records:
        if r.account_no:
            m.accounts.add(normalize_account_no(r.account_no) or r.account_no)
        if r.invoice_no:
            m.invoices.add(r.invoice_no.strip().upper())
        if r.payment_ref:
            m.refs.add(normalize_rf(r.payment_ref) or r.payment_ref)
        text = r.remittance
        if not text:
            continue
        for run in _NUMBERISH.findall(text):
            digits = re.sub(r"\D", "", run)
            if len(digits) == 8:
                m.accounts.add(digits)
            elif len(digits) == 7:
                m.accounts.add(digits + str(damm_digit(digits)))
        m.invoices.update(x.upper() for x in _INVOICE_LIKE.findall(text))
        m.refs.update(normalize_rf(x) or "" for x in _RF_LIKE.findall(text))
    return m


def load_index(
    conn: Connection, records: Sequence[PaymentRecord], book: AccountBook | None = None
) -> CityIndex:
    """The matcher's snapshot for a batch: every account (existence, status, names for
    suggestions), and the invoices and open lines of what the batch mentions."""
    wanted = _mentions(records)
    inv_rows = _load_invoices(conn, wanted.invoices, wanted.refs)
    wanted.accounts.update(acc for _, _, acc in inv_rows)
    lines = [ln for group in load_open_lines(conn, wanted.accounts).values() for ln in group]
    book = book or AccountBook(conn)
    index = CityIndex.build((), lines)
    index.accounts = book  # type: ignore[assignment]
    index.invoice_account.update((no, acc) for no, _, acc in inv_rows)
    index.ref_invoice.update((ref, no) for no, ref, _ in inv_rows)
    return index


def _load_invoices(
    conn: Connection, numbers: Collection[str], refs: Collection[str]
) -> list[tuple[str, str, str]]:
    """(invoice_no, payment_ref, account_no) of open invoices named by number or reference."""
    q = (
        select(invoices.c.invoice_no, invoices.c.payment_ref, accounts.c.account_no)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .where(invoices.c.status == "open")
    )
    rows: set[tuple[str, str, str]] = set()
    for column, keys, name in (
        (invoices.c.invoice_no, numbers, "invoice_nos"),
        (invoices.c.payment_ref, refs, "payment_refs"),
    ):
        if keys:
            table = keyset(conn, name, keys)
            rows.update(tuple(r) for r in conn.execute(q.where(in_keys(column, table))))
    return sorted(rows)


def _extend_index(conn: Connection, index: CityIndex, decisions: Sequence[Decision]) -> set[str]:
    """Load lines for accounts the matcher reached that the cheap scan missed (look-alike
    letters, typo corrections) and names for the accounts it asked about by name; returns
    them, so their records can be matched again with the full picture."""
    reached = {a for d in decisions for a in d.accounts} | {
        c.account_no for d in decisions for c in d.candidates
    }
    missing = {a for a in reached if a in index.accounts and a not in index.lines_by_account}
    book = index.accounts
    unnamed = book.preload(set(book.asked)) if isinstance(book, AccountBook) else set()
    if missing:
        loaded = load_open_lines(conn, missing)
        for a in missing:
            index.set_lines(a, loaded.get(a, []))
    return missing | unnamed


def _plan_credits(
    conn: Connection,
    records: Sequence[PaymentRecord],
    fallback: date,
    source: str,
    book: AccountBook | None,
) -> list[Planned]:
    if not records:
        return []
    index = load_index(conn, records, book)
    decisions = match_batch(records, index)
    missing = _extend_index(conn, index, decisions)
    if missing:
        decisions = [
            _rematch(r, d, index, missing) for r, d in zip(records, decisions, strict=True)
        ]
    flags = _duplicates(conn, records, decisions, source, fallback)
    # How many payments of the batch still go to each account: the snapshot only needs to
    # move on (see _place) for an account that another payment will see after this one.
    pending = Counter(a for d in decisions if d.status == "allocate" for a in d.accounts)
    plans = []
    for r, d in zip(records, decisions, strict=True):
        plan = Planned(r, "review", _channel(r), _day(r, fallback))
        flag = flags.get(f"{source}:{r.external_id}") if flags else None
        if flag is not None:
            plan.reason = ReasonCode.LIKELY_DUPLICATE.value
            plan.candidates = tuple(Candidate(a, 1.0, flag.reason) for a in d.accounts)
        elif d.status == "allocate":
            _place(plan, d, index, pending)
        elif d.status == "reject":
            plan.status, plan.reason = "rejected", d.reason
        else:
            plan.reason, plan.candidates = d.reason, d.candidates
        plans.append(plan)
    return plans


def _rematch(
    record: PaymentRecord, decision: Decision, index: CityIndex, missing: set[str]
) -> Decision:
    touched = set(decision.accounts) | {c.account_no for c in decision.candidates}
    return match(record, index) if touched & missing else decision


def _place(plan: Planned, decision: Decision, index: CityIndex, pending: Counter[str]) -> None:
    """Allocate in memory and move the snapshot on, so a second payment to the same account
    in this batch sees what the first one already paid (``pending`` counts the payments still
    to come per account; the last one has no need to move it on)."""
    try:
        rows = allocate_decision(plan.record, decision, index)
    except AllocationError as exc:
        plan.reason = exc.code
        plan.candidates = tuple(Candidate(a, 1.0, str(exc)) for a in decision.accounts)
        return
    finally:
        pending.subtract(decision.accounts.keys())  # keys: the dict maps to amounts
    for acc in decision.accounts:
        if pending[acc] > 0:
            index.set_lines(acc, open_after(index.lines(acc), rows))
    plan.status, plan.rows = "allocated", rows
    plan.account_no = next(iter(decision.accounts)) if len(decision.accounts) == 1 else None


def _duplicates(
    conn: Connection,
    records: Sequence[PaymentRecord],
    decisions: Sequence[Decision],
    source: str,
    fallback: date,
) -> dict[str, DuplicateFlag]:
    batch = [
        SeenPayment.of(
            f"{source}:{r.external_id}",
            _channel(r),
            r,
            next(iter(d.accounts)) if d.status == "allocate" and len(d.accounts) == 1 else None,
        )
        for r, d in zip(records, decisions, strict=True)
    ]
    days = [_day(r, fallback) for r in records]
    window = timedelta(days=DUPLICATE_WINDOW_DAYS)
    seen = _recent_payments(
        conn,
        (min(days) - window, max(days) + window),
        accounts={b.account_no for b in batch if b.account_no},
        refs={ref for b in batch for ref in b.bank_refs},
    )
    return flag_duplicates(batch, seen, window_days=DUPLICATE_WINDOW_DAYS)


def _recent_payments(
    conn: Connection, days: tuple[date, date], *, accounts: set[str], refs: set[str]
) -> list[SeenPayment]:
    """Stored payments a batch could duplicate: same account within the window, or the
    same bank reference. Joined against key tables, so the cost follows the batch, not the
    size of the day already stored."""
    p = payments
    base = select(
        p.c.source,
        p.c.external_id,
        p.c.channel,
        p.c.business_day,
        p.c.account_no,
        p.c.amount,
        p.c.account_servicer_ref,
        p.c.end_to_end_id,
    ).where(p.c.reversal.is_(False), p.c.status != "reversed")
    rows: dict[tuple[str, str], object] = {}
    if accounts:
        keys = keyset(conn, "dup_accounts", accounts)
        q = base.where(in_keys(p.c.account_no, keys), p.c.business_day.between(*days))
        rows.update(((r.source, r.external_id), r) for r in conn.execute(q))
    if refs:
        keys = keyset(conn, "dup_refs", refs)
        for column in (p.c.account_servicer_ref, p.c.end_to_end_id):
            rows.update(
                ((r.source, r.external_id), r)
                for r in conn.execute(base.where(in_keys(column, keys)))
            )
    return [
        SeenPayment(
            f"{r.source}:{r.external_id}",
            r.channel,
            r.business_day,
            r.account_no,
            r.amount,
            tuple(x for x in (r.account_servicer_ref, r.end_to_end_id) if x and x != "NOTPROVIDED"),
        )
        for r in rows.values()
    ]


# --- settlement of collectors' lump sums --------------------------------------------------------

STATEMENT_FORMATS = frozenset({"camt053", "mt940"})
REGISTRY_CHANNELS = ("post", "terminal", "compensation", "bank_itemised")
SETTLEMENT_HORIZON_DAYS = 35


def _split_lump_sums(
    credits: Sequence[PaymentRecord], collectors: Sequence[Collector]
) -> tuple[list[PaymentRecord], list[PaymentRecord]]:
    """Statement credits from a collector settle a registry; the rest are residents' money."""
    lump, rest = [], []
    for r in credits:
        code = (
            identify(collectors, r.debtor_iban, r.debtor_name)
            if r.source_format in STATEMENT_FORMATS and collectors
            else None
        )
        if code is None:
            rest.append(r)
        else:
            lump.append(replace(r, collector=code))
    return lump, rest


def _plan_lump_sum(record: PaymentRecord, fallback: date) -> Planned:
    return Planned(
        record, "review", "settlement", _day(record, fallback), reason="SETTLEMENT_PENDING"
    )


def settle_pending(conn: Connection, collectors: Sequence[Collector], *, today: date) -> int:
    """Pair every open registry with the pending lump sums; returns the lines written.

    Runs after each ingest, so a registry and its lump sum settle in whichever order they
    arrive. ``settlements`` is workflow state (one row per registry, rewritten until settled),
    not money: allocations are untouched here.
    """
    since = today - timedelta(days=SETTLEMENT_HORIZON_DAYS)
    done = {
        (c, b)
        for c, b in conn.execute(
            select(settlements.c.collector, settlements.c.batch_ref).where(
                settlements.c.status != "unsettled"
            )
        )
    }
    batches = [b for b in _registry_batches(conn, since) if (b.collector, b.batch_ref) not in done]
    credits = _pending_credits(conn, since)
    if not batches and not credits:
        return 0
    lines, _ = settle(batches, credits, collectors)
    now = datetime.now(UTC)
    keys = [(ln.collector, ln.batch_ref) for ln in lines]
    for c, b in keys:
        conn.execute(
            settlements.delete().where(settlements.c.collector == c, settlements.c.batch_ref == b)
        )
    if lines:
        conn.execute(insert(settlements), [_settlement_row(ln, now) for ln in lines])
    paired = [ln.credit_id for ln in lines if ln.credit_id is not None]
    for chunk in _chunks(paired):
        conn.execute(
            update(payments)
            .where(payments.c.id.in_(chunk))
            .values(status="allocated", reason="SETTLEMENT")
        )
    return len(lines)


def _registry_batches(conn: Connection, since: date) -> list[RegistryBatch]:
    p = payments
    rows = conn.execute(
        select(p.c.collector, p.c.batch_ref, p.c.business_day, p.c.amount).where(
            p.c.channel.in_(REGISTRY_CHANNELS),
            p.c.collector.is_not(None),
            p.c.reversal.is_(False),
            p.c.business_day >= since,
        )
    ).all()
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for collector, batch_ref, day, amount in rows:
        groups[(collector, batch_ref or f"{collector}:{day.isoformat()}")].append((day, amount))
    return [
        RegistryBatch(c, b, min(d for d, _ in items), sum(a for _, a in items), len(items))
        for (c, b), items in groups.items()
    ]


def _pending_credits(conn: Connection, since: date) -> list[Credit]:
    p = payments
    rows = conn.execute(
        select(
            p.c.id, p.c.collector, p.c.value_date, p.c.business_day, p.c.amount, p.c.remittance
        ).where(p.c.channel == "settlement", p.c.status == "review", p.c.business_day >= since)
    ).all()
    return [
        Credit(r.id, r.collector, r.value_date or r.business_day, r.amount, r.remittance or "")
        for r in rows
    ]


def _settlement_row(ln, now: datetime) -> dict:  # type: ignore[no-untyped-def]
    return {
        "collector": ln.collector,
        "batch_ref": ln.batch_ref,
        "registry_day": ln.registry_day,
        "registry_total": ln.registry_total,
        "registry_count": ln.registry_count,
        "statement_payment_id": ln.credit_id,
        "statement_amount": ln.credit_amount,
        "difference": ln.difference,
        "status": ln.status,
        "business_day": ln.registry_day,
        "created_at": now,
    }


# --- advance credit consumed by new invoices ----------------------------------------------------


def consume_advances(conn: Connection, *, day: date, actor: str) -> int:
    """Place every account's unused advance credit on its open lines; returns rows written.

    Runs after an invoice register import: an overpayment from last month pays this month's
    invoice. Credit is used oldest payment first, each payment's own credit staying under
    that payment (the rows sum to zero per payment: a negative advance row and the lines it
    pays), so any day can be rebuilt from the allocations alone. Earmarked credit (a named
    service overpaid) only pays that service.
    """
    a = allocations
    credit_rows = conn.execute(
        select(
            a.c.payment_id,
            accounts.c.account_no,
            services.c.code,
            providers.c.code,
            func.sum(a.c.amount),
        )
        .select_from(a)
        .join(accounts, accounts.c.id == a.c.account_id)
        .outerjoin(services, services.c.id == a.c.service_id)
        .outerjoin(providers, providers.c.id == a.c.provider_id)
        .where(a.c.invoice_line_id.is_(None))
        .group_by(a.c.payment_id, accounts.c.account_no, services.c.code, providers.c.code)
        .having(func.sum(a.c.amount) > 0)
        .order_by(a.c.payment_id)
    ).all()
    if not credit_rows:
        return 0
    lines = load_open_lines(conn, {r[1] for r in credit_rows})
    placed: list[tuple[int, AllocationRow]] = []
    for payment_id, account_no, service, provider, credit in credit_rows:
        own = lines.get(account_no, [])
        rows = apply_advance(
            account_no, int(credit), own, service_code=service, provider_code=provider
        )
        if rows:
            lines[account_no] = open_after(own, rows)
            placed.extend((payment_id, row) for row in rows)
    return insert_allocations(
        conn,
        placed,
        account_ids=load_accounts(conn, {row.account_no for _, row in placed}),
        refs=RefIds.load(conn),
        business_day=day,
        created_by=actor,
        kind="advance_use",
    )
