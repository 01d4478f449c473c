"""Payment orders of a closed day: the remittance to providers and the refunds to payers.

``create_orders`` writes at most one new pain.001 file per kind: the remittance (per
provider, the day's amount to remit minus what earlier files of the day carried) and the
refunds (rows of ``refunds`` for the day not yet in a file). When nothing new is owed it
returns the day's latest file as it is: the same day is never paid twice. Every file is
stored with its sha256 and moves created -> sent (``mark_sent``, when finance uploaded it to
the bank) -> confirmed (``confirm_orders``: every transfer seen as a debit on a later
statement with the same amount and end-to-end id). Creditor IBANs are checked (schwifty)
before anything is written; an invalid one refuses the file and names the provider.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import Connection, Engine, func, insert, select, update

from gateway.db import AnyRow, reading
from gateway.errors import Conflict, NotFound, UserError
from gateway.services.day_close import is_closed
from gateway.services.pain001 import Debtor, write_pain001
from gateway.services.people import Actor, Role
from gateway.services.report import provider_rows
from gateway.settings import Settings
from reconciliation.daily import remittances
from reconciliation.orders import (
    Creditor,
    OrderKind,
    OrderLine,
    OrderState,
    Overpaid,
    message_id,
    plan_refunds,
    plan_remittance,
)
from reconciliation.service import business_today
from schemas.tables import payment_order_lines, payment_orders, payments, providers, refunds


@dataclass(frozen=True)
class OrderSummary:
    id: int
    kind: str
    business_day: date
    number: int
    state: str
    total: int
    count: int
    sha256: str
    created_at: datetime
    new: bool = False

    @property
    def filename(self) -> str:
        return f"pain001_{self.kind}_{self.business_day:%Y%m%d}_{self.number}.xml"


@dataclass(frozen=True)
class CreateResult:
    orders: list[OrderSummary]
    overpaid: list[Overpaid]


def create_orders(engine: Engine, day: date, actor: Actor, settings: Settings) -> CreateResult:
    actor.require(Role.FINANCE, Role.SUPERVISOR)
    debtor = Debtor(settings.centre_name, settings.centre_iban, settings.centre_bic)
    _check_iban(debtor.iban, "the billing centre (GATEWAY_CENTRE_IBAN)")
    with engine.begin() as conn:
        if not is_closed(conn, day):
            raise Conflict(f"day {day} is open: close it first (`gateway day close {day}`)")
        # executed the next day, never on a day already past (a bank refuses that)
        execution = max(day + timedelta(days=1), business_today(settings.timezone))
        remit, over = _remittance(conn, day, actor, debtor, execution)
        refund = _refunds(conn, day, actor, debtor, execution)
    return CreateResult([o for o in (remit, refund) if o is not None], over)


def _remittance(
    conn: Connection, day: date, actor: Actor, debtor: Debtor, execution: date
) -> tuple[OrderSummary | None, list[Overpaid]]:
    rows = provider_rows(conn, day)
    owed = remittances(rows)
    services: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.provider and r.service and r.to_remit:
            services[r.provider].append(r.service)
    paid = _paid(conn, day)
    number = _next_number(conn, OrderKind.REMITTANCE, day)
    creditors = _creditors(conn, owed.keys() | paid.keys())
    lines, over = plan_remittance(day, number, owed, paid, creditors, services)
    if not lines:
        return _latest(conn, OrderKind.REMITTANCE, day), over
    return _store(conn, OrderKind.REMITTANCE, day, number, lines, actor, debtor, execution), over


def _refunds(
    conn: Connection, day: date, actor: Actor, debtor: Debtor, execution: date
) -> OrderSummary | None:
    rows = conn.execute(
        select(refunds.c.id, refunds.c.name, refunds.c.iban, refunds.c.amount, refunds.c.reason)
        .where(
            refunds.c.business_day == day,
            refunds.c.order_id.is_(None),
            refunds.c.cancelled_at.is_(None),
        )
        .order_by(refunds.c.id)
    ).all()
    number = _next_number(conn, OrderKind.REFUND, day)
    lines = plan_refunds(day, number, [tuple(r) for r in rows])
    if not lines:
        return _latest(conn, OrderKind.REFUND, day)
    for ln in lines:
        _check_iban(ln.creditor.iban, f"refund {ln.creditor.code}")
    order = _store(conn, OrderKind.REFUND, day, number, lines, actor, debtor, execution)
    conn.execute(
        update(refunds)
        .where(refunds.c.id.in_([ln.creditor.ref for ln in lines]))
        .values(order_id=order.id)
    )
    return order


def _paid(conn: Connection, day: date) -> dict[str, int]:
    o, ln = payment_orders, payment_order_lines
    rows = conn.execute(
        select(ln.c.provider_code, func.sum(ln.c.amount))
        .select_from(ln.join(o, o.c.id == ln.c.order_id))
        .where(o.c.kind == OrderKind.REMITTANCE, o.c.business_day == day)
        .group_by(ln.c.provider_code)
    ).all()
    return {code: int(total) for code, total in rows}


def _creditors(conn: Connection, codes: set[str]) -> dict[str, Creditor]:
    rows = conn.execute(
        select(providers.c.code, providers.c.id, providers.c.name, providers.c.iban).where(
            providers.c.code.in_(sorted(codes))
        )
    ).all()
    out = {
        code: Creditor(code, pid, name, iban.replace(" ", "").upper())
        for code, pid, name, iban in rows
    }
    bad = []
    for c in out.values():
        try:
            IBAN(c.iban)
        except SchwiftyException as exc:
            bad.append(f"{c.code} ({c.iban}: {exc})")
    if bad:
        raise UserError("invalid IBAN in the providers' register: " + "; ".join(bad))
    return out


def _check_iban(iban: str, whose: str) -> None:
    try:
        IBAN(iban)
    except SchwiftyException as exc:
        raise UserError(f"invalid IBAN of {whose}: {iban} ({exc})") from None


def _next_number(conn: Connection, kind: OrderKind, day: date) -> int:
    o = payment_orders
    q = select(func.max(o.c.number)).where(o.c.kind == kind, o.c.business_day == day)
    return (conn.execute(q).scalar() or 0) + 1


def _store(
    conn: Connection,
    kind: OrderKind,
    day: date,
    number: int,
    lines: list[OrderLine],
    actor: Actor,
    debtor: Debtor,
    execution: date,
) -> OrderSummary:
    now = datetime.now(UTC)
    msg = message_id(kind, day, number)
    xml = write_pain001(msg, now, execution, debtor, lines)
    sha = hashlib.sha256(xml).hexdigest()
    total = sum(ln.amount for ln in lines)
    oid = conn.execute(
        insert(payment_orders)
        .values(
            kind=kind,
            business_day=day,
            number=number,
            message_id=msg,
            sha256=sha,
            content=xml,
            total=total,
            count=len(lines),
            state=OrderState.CREATED,
            created_by=actor.username,
            created_at=now,
        )
        .returning(payment_orders.c.id)
    ).scalar_one()
    conn.execute(
        insert(payment_order_lines),
        [
            {
                "order_id": oid,
                "end_to_end_id": ln.end_to_end_id,
                "provider_code": ln.creditor.code if kind is OrderKind.REMITTANCE else None,
                "refund_id": ln.creditor.ref if kind is OrderKind.REFUND else None,
                "creditor_name": ln.creditor.name[:140],
                "creditor_iban": ln.creditor.iban,
                "amount": ln.amount,
                "remittance_info": ln.remittance_info,
            }
            for ln in lines
        ],
    )
    return OrderSummary(
        oid, kind.value, day, number, OrderState.CREATED.value, total, len(lines), sha, now, True
    )


def _summary(r: AnyRow) -> OrderSummary:
    count = r._mapping["count"]  # r.count is a Row's tuple method to a type checker
    return OrderSummary(
        r.id, r.kind, r.business_day, r.number, r.state, r.total, count, r.sha256, r.created_at
    )


_SUMMARY_COLUMNS = (
    payment_orders.c.id,
    payment_orders.c.kind,
    payment_orders.c.business_day,
    payment_orders.c.number,
    payment_orders.c.state,
    payment_orders.c.total,
    payment_orders.c.count,
    payment_orders.c.sha256,
    payment_orders.c.created_at,
)


def _latest(conn: Connection, kind: OrderKind, day: date) -> OrderSummary | None:
    o = payment_orders
    row = conn.execute(
        select(*_SUMMARY_COLUMNS)
        .where(o.c.kind == kind, o.c.business_day == day)
        .order_by(o.c.number.desc())
        .limit(1)
    ).first()
    return _summary(row) if row else None


def list_orders(engine: Engine, *, limit: int = 200) -> list[OrderSummary]:
    """The latest files, newest day first (confirmations from statements applied first)."""
    with engine.begin() as conn:
        confirm_orders(conn)
    with reading(engine) as conn:
        rows = conn.execute(
            select(*_SUMMARY_COLUMNS)
            .order_by(payment_orders.c.business_day.desc(), payment_orders.c.id.desc())
            .limit(limit)
        ).all()
    return [_summary(r) for r in rows]


def order_file(engine: Engine, order_id: int) -> tuple[OrderSummary, bytes]:
    with reading(engine) as conn:
        row = conn.execute(
            select(*_SUMMARY_COLUMNS, payment_orders.c.content).where(
                payment_orders.c.id == order_id
            )
        ).first()
    if row is None:
        raise NotFound(f"no payment order {order_id}")
    summary = _summary(row)
    if hashlib.sha256(row.content).hexdigest() != summary.sha256:
        raise RuntimeError(f"payment order {order_id} does not match its sha256")
    return summary, bytes(row.content)


def mark_sent(engine: Engine, order_id: int, actor: Actor) -> None:
    actor.require(Role.FINANCE, Role.SUPERVISOR)
    with engine.begin() as conn:
        done = conn.execute(
            update(payment_orders)
            .where(payment_orders.c.id == order_id, payment_orders.c.state == OrderState.CREATED)
            .values(state=OrderState.SENT, sent_at=datetime.now(UTC))
        ).rowcount
        if not done:
            state = conn.execute(
                select(payment_orders.c.state).where(payment_orders.c.id == order_id)
            ).scalar()
            if state is None:
                raise NotFound(f"no payment order {order_id}")


def confirm_orders(conn: Connection) -> int:
    """Match open transfers with statement debits (same end-to-end id and amount); an order
    whose every transfer is matched is confirmed. Returns the transfers matched now."""
    ln, p = payment_order_lines, payments
    matches = conn.execute(
        select(ln.c.id, func.min(p.c.id))
        .select_from(
            ln.join(p, (p.c.end_to_end_id == ln.c.end_to_end_id) & (p.c.amount == ln.c.amount))
        )
        .where(ln.c.confirmed_payment_id.is_(None), p.c.direction == "debit")
        .group_by(ln.c.id)
    ).all()
    for line_id, payment_id in matches:
        conn.execute(update(ln).where(ln.c.id == line_id).values(confirmed_payment_id=payment_id))
    if matches:
        open_lines = select(ln.c.order_id).where(ln.c.confirmed_payment_id.is_(None))
        conn.execute(
            update(payment_orders)
            .where(
                payment_orders.c.state != OrderState.CONFIRMED,
                payment_orders.c.id.not_in(open_lines),
            )
            .values(state=OrderState.CONFIRMED, confirmed_at=datetime.now(UTC))
        )
    return len(matches)
