"""One review item as the item page shows it: the payment in full, why it is here, the
ranked candidates with their evidence, the chosen account's open invoices, the history.

Evidence is computed when the page is read, from the payment and the database as they are
now, for at most the item's five candidates plus the account the accountant picked:
- *check-digit correction* and the matcher's other words: from the candidate's reason;
- *name similarity*: rapidfuzz token-set score of the folded payer name (or, without one, the
  details) against the holder; *address similarity*: of the details against the address;
- *amount equals the open total* of the account (positive open lines, as the matcher counts);
- *IBAN seen before*: earlier payments from the same IBAN placed on the account;
- *paid last month*: payments placed on the account in the calendar month before the
  payment's business day.
Each is one query over the candidates together (by the payments' account index), never a
query per candidate.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from rapidfuzz import fuzz
from sqlalchemy import Connection, Engine, func, select

from gateway.db import reading
from gateway.errors import NotFound
from gateway.services.review.reads import HistoryEntry, show
from gateway.services.review.structs import ItemState
from gateway.services.review_queue import describe_reason
from reconciliation.fold import fold
from reconciliation.model import CITY_TIMEZONE, PaymentStatus
from reconciliation.references import normalize_account_no
from reconciliation.service import business_today, load_open_lines
from schemas.tables import accounts, payments, providers, raw_files, services


class Evidence(msgspec.Struct, frozen=True):
    account_no: str
    score: float  # the matcher's rank, 0..1
    why: str  # the matcher's words
    exists: bool
    status: str | None  # open | closed
    payer_name: str | None
    address: str | None
    check_digit_fix: bool
    name_score: int  # 0..100, payer name against the holder
    address_score: int  # 0..100, details against the holder's address
    open_total: int  # bani
    amount_equals_open: bool
    iban_seen: int  # earlier payments from this IBAN placed on the account
    paid_last_month: int  # payments placed on the account in the month before
    paid_last_month_amount: int


class OpenLineView(msgspec.Struct, frozen=True):
    invoice_no: str
    period: str
    service_code: str
    service_name: str
    provider_name: str
    open_amount: int


class AccountBook(msgspec.Struct, frozen=True):
    account_no: str
    payer_name: str
    address: str
    status: str
    lines: list[OpenLineView]
    open_total: int


class RawFileView(msgspec.Struct, frozen=True):
    id: int
    filename: str
    sha256: str
    format: str | None
    size: int
    received_at: datetime


class ItemPage(msgspec.Struct, frozen=True):
    item: ItemState
    payment: dict[str, Any]  # every column of the payment row, for the "statement entry" table
    reason_text: str
    age_days: int
    raw_file: RawFileView | None
    candidates: list[Evidence]
    chosen: AccountBook | None
    history: list[HistoryEntry]


def _month_before(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    last_prev = first - timedelta(days=1)
    return last_prev.replace(day=1), last_prev


def _similar(folded: str, text: str | None) -> int:
    """rapidfuzz token-set score, 0..100: 100 when every word of the shorter text is in the
    other (a holder's name inside the details), lower for each word missing."""
    return int(fuzz.token_set_ratio(folded, fold(text))) if folded and text else 0


def _evidence(conn: Connection, pay: Any, item: ItemState, extra: str | None) -> list[Evidence]:
    ranked = [(c.account_no, c.score, c.reason) for c in item.candidates]
    if extra and extra not in {a for a, _, _ in ranked}:
        ranked.append((extra, 0.0, "chosen by the accountant"))
    nos = [a for a, _, _ in ranked]
    if not nos:
        return []
    info = {
        r.account_no: r
        for r in conn.execute(
            select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address,
                   accounts.c.status).where(accounts.c.account_no.in_(nos))
        )
    }  # fmt: skip
    totals = {
        acc: sum(ln.open_amount for ln in lines if ln.open_amount > 0)
        for acc, lines in load_open_lines(conn, set(nos)).items()
    }
    placed = payments.c.status == PaymentStatus.ALLOCATED.value
    seen: dict[str, int] = {}
    if pay.debtor_iban:
        seen = dict(
            conn.execute(
                select(payments.c.account_no, func.count())
                .where(payments.c.account_no.in_(nos), payments.c.debtor_iban == pay.debtor_iban,
                       payments.c.id != pay.id, placed)
                .group_by(payments.c.account_no)
            ).all()
        )  # fmt: skip
    low, high = _month_before(pay.business_day)
    last_month = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            select(payments.c.account_no, func.count(), func.sum(payments.c.amount))
            .where(payments.c.account_no.in_(nos), payments.c.business_day.between(low, high),
                   placed)
            .group_by(payments.c.account_no)
        )
    }  # fmt: skip
    payer, details = fold(pay.debtor_name), fold(pay.remittance)
    out = []
    for acc, score, why in ranked:
        row = info.get(acc)
        total = totals.get(acc, 0)
        count, amount = last_month.get(acc, (0, 0))
        out.append(
            Evidence(
                account_no=acc,
                score=score,
                why=why,
                exists=row is not None,
                status=row.status if row else None,
                payer_name=row.payer_name if row else None,
                address=row.address if row else None,
                check_digit_fix="digit" in why,
                name_score=_similar(payer or details, row.payer_name if row else None),
                address_score=_similar(details, row.address if row else None),
                open_total=total,
                amount_equals_open=total > 0 and total == pay.amount,
                iban_seen=int(seen.get(acc, 0)),
                paid_last_month=int(count or 0),
                paid_last_month_amount=int(amount or 0),
            )
        )
    return out


def account_book(conn: Connection, account_no: str) -> AccountBook | None:
    """The account with its open invoice lines, per invoice and service, oldest first."""
    row = conn.execute(
        select(accounts.c.payer_name, accounts.c.address, accounts.c.status).where(
            accounts.c.account_no == account_no
        )
    ).first()
    if row is None:
        return None
    svc = dict(conn.execute(select(services.c.code, services.c.name)).all())
    prov = dict(conn.execute(select(providers.c.code, providers.c.name)).all())
    lines = [
        OpenLineView(ln.invoice_no, ln.period, ln.service_code, svc.get(ln.service_code, ""),
                     prov.get(ln.provider_code, ln.provider_code), ln.open_amount)
        for ln in load_open_lines(conn, {account_no}).get(account_no, [])
        if ln.open_amount != 0
    ]  # fmt: skip
    total = sum(ln.open_amount for ln in lines if ln.open_amount > 0)
    return AccountBook(account_no, row.payer_name, row.address, row.status, lines, total)


def item_page(
    engine: Engine,
    item_id: int,
    chosen: str | None = None,
    today: date | None = None,
    *,
    timezone: str = CITY_TIMEZONE,
) -> ItemPage:
    """Everything the item page shows; ``chosen`` is an account picked by the accountant
    (from the search), else the best candidate."""
    detail = show(engine, item_id)
    item = detail.item
    picked = normalize_account_no(chosen) if chosen else None
    with reading(engine) as conn:
        pay = conn.execute(select(payments).where(payments.c.id == item.payment_id)).first()
        if pay is None:
            raise NotFound(f"payment {item.payment_id} is gone")
        raw = None
        if pay.raw_file_id is not None:
            r = conn.execute(select(raw_files).where(raw_files.c.id == pay.raw_file_id)).one()
            raw = RawFileView(r.id, r.filename, r.sha256, r.format, r.size, r.received_at)
        evidence = _evidence(conn, pay, item, picked)
        target = picked or item.account_no or (item.candidates[0].account_no
                                               if item.candidates else None)  # fmt: skip
        book = account_book(conn, target) if target else None
    shown = {
        k: v
        for k, v in pay._mapping.items()
        if k not in ("response", "request_sha256", "agent_id") and v not in (None, "")
    }
    return ItemPage(
        item=item,
        payment=shown,
        reason_text=describe_reason(item.reason),
        age_days=((today or business_today(timezone)) - pay.business_day).days,
        raw_file=raw,
        candidates=evidence,
        chosen=book,
        history=detail.history,
    )
