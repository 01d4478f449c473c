"""The approvals page's words: each request said as a supervisor reads it ("Assign
1 234.50 MDL to account 1000001-8 (Ion Popescu)"), not as its parameters are stored.

Decisions:
- the words come from the request's stored parameters (what runs on approval), the amounts
  through the pages' ``money`` filter and the accounts as ``account`` shows them, each with
  its holder's name; the stored one-line ``summary`` stays the fallback for a request whose
  parameters this module does not know;
- an undo says what it takes back: the resolution its item had when the undo was asked
  (the audit trail's last resolving row before the request);
- the parameters, the undone resolutions and the holders' names are read in three queries
  for the page (at most 200 requests), never one per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from gateway.db import reading
from gateway.services.review.bulk import BulkRule
from gateway.services.review.structs import Approval
from gateway.web.pages.bulk import RULES
from gateway.web.render import account, iban, money
from reconciliation.review import ActionKind
from schemas.tables import accounts, approvals, payments, review_actions

#: Audit actions that resolve an item: what an undo takes back.
RESOLVING = {
    ActionKind.ASSIGN.value,
    ActionKind.SPLIT.value,
    ActionKind.RETURN.value,
    ActionKind.NOT_UTILITY.value,
    ActionKind.DUPLICATE.value,
}


def describe(engine: Engine, shown: Sequence[Approval]) -> dict[int, str]:
    """Approval id -> what it does, in words."""
    if not shown:
        return {}
    undo_items = {
        ap.review_item_id
        for ap in shown
        if ap.action == ActionKind.UNDO.value and ap.review_item_id is not None
    }
    with reading(engine) as conn:
        stored = _stored(conn, [ap.id for ap in shown])
        trail = _trail(conn, undo_items)
        undone = {
            ap.id: _undone(ap, trail.get(ap.review_item_id, []))
            for ap in shown
            if ap.review_item_id in undo_items
        }
        names = _holders(conn, _accounts_named(stored.values(), undone.values()))
    out = {}
    for ap in shown:
        params, paid_to = stored.get(ap.id, ({}, None))
        try:
            out[ap.id] = _words(ap, params, paid_to, undone.get(ap.id), names)
        except (KeyError, TypeError, ValueError):  # parameters of a shape not known here
            out[ap.id] = ap.summary
    return out


Payload = Mapping[str, Any]


def _stored(conn: Connection, ids: list[int]) -> dict[int, tuple[Payload, str | None]]:
    """Approval id -> (its parameters, the account its payment is placed on, if any)."""
    q = (
        select(approvals.c.id, approvals.c.params, payments.c.account_no)
        .select_from(approvals.outerjoin(payments, payments.c.id == approvals.c.payment_id))
        .where(approvals.c.id.in_(ids))
    )
    return {r.id: (r.params or {}, r.account_no) for r in conn.execute(q)}


def _trail(conn: Connection, item_ids: set[int]) -> dict[int, list[tuple[str, Payload]]]:
    """Item id -> its audit rows (action, payload), oldest first."""
    out: dict[int, list[tuple[str, Payload]]] = {}
    if not item_ids:
        return out
    ra = review_actions
    rows = conn.execute(
        select(ra.c.review_item_id, ra.c.action, ra.c.payload)
        .where(ra.c.review_item_id.in_(item_ids))
        .order_by(ra.c.id)
    )
    for item_id, action, payload in rows:
        out.setdefault(item_id, []).append((action, payload or {}))
    return out


def _undone(ap: Approval, rows: Sequence[tuple[str, Payload]]) -> tuple[str, Payload] | None:
    """The resolving audit row (action, payload) before the undo request ``ap`` was made."""
    asked = next(
        (
            i
            for i, (action, payload) in enumerate(rows)
            if action == ActionKind.REQUEST_APPROVAL.value and payload.get("approval_id") == ap.id
        ),
        len(rows),
    )
    return next(((a, p) for a, p in reversed(rows[:asked]) if a in RESOLVING), None)


def _holders(conn: Connection, numbers: set[str]) -> dict[str, str]:
    if not numbers:
        return {}
    q = select(accounts.c.account_no, accounts.c.payer_name)
    return {no: name for no, name in conn.execute(q.where(accounts.c.account_no.in_(numbers)))}


def _accounts_named(
    stored: Iterable[tuple[Payload, str | None]],
    undone: Iterable[tuple[str, Payload] | None],
) -> set[str]:
    """Every account number the words will name (to read the holders' names at once)."""
    found: set[str] = set()
    for params, paid_to in stored:
        found.update(filter(None, [params.get("account_no"), paid_to]))
        found.update(s.get("account_no") for s in params.get("shares") or [])
    for one in undone:
        if one is not None:
            found.update(filter(None, [one[1].get("account_no")]))
            found.update(s.get("account_no") for s in one[1].get("shares") or [])
    return {n for n in found if isinstance(n, str)}


def _mdl(bani: int) -> str:
    return f"{money(bani)} MDL"


def _account(no: str, names: Mapping[str, str]) -> str:
    name = names.get(no)
    return f"account {account(no)}" + (f" ({name})" if name else "")


def _words(
    ap: Approval,
    p: Payload,
    paid_to: str | None,
    undone: tuple[str, Payload] | None,
    names: Mapping[str, str],
) -> str:
    kind, amount = ap.action, _mdl(ap.amount)
    if kind == ActionKind.ASSIGN.value:
        text = f"Assign {amount} to {_account(p['account_no'], names)}"
        if p.get("invoices"):
            text += f", invoices {', '.join(p['invoices'])}"
        if p.get("services"):
            text += ", by service: " + ", ".join(
                f"{s['service_code']} {_mdl(s['amount'])}" for s in p["services"]
            )
    elif kind == ActionKind.SPLIT.value:
        shares = [
            f"{_mdl(s['amount'])} to {_account(s['account_no'], names)}"
            + (f" for {s['service_code']}" if s.get("service_code") else "")
            for s in p["shares"]
        ]
        text = f"Split {amount}: " + "; ".join(shares)
    elif kind == ActionKind.RETURN.value:
        text = f"Return {amount} to {p['name']}, IBAN {iban(p['iban'])}. Reason: {p['reason']}"
    elif kind == ActionKind.NOT_UTILITY.value:
        text = f"Mark {amount} as not a utility payment. Reason: {p['reason']}"
    elif kind == ActionKind.DUPLICATE.value:
        text = f"Mark {amount} as a duplicate of payment {p['of_payment_id']}, " + (
            f"returned to {p['name']}, IBAN {iban(p['iban'])}"
            if p["outcome"] == "return"
            else "kept as the account's credit"
        )
    elif kind == ActionKind.UNDO.value:
        text = f"Undo {_resolution(undone, amount, names)}. Reason: {p['reason']}"
    elif kind == ActionKind.UNMATCH.value:
        where = f" on {_account(paid_to, names)}" if paid_to else ""
        text = f"Take back the automatic placement of {amount}{where}. Reason: {p['reason']}"
    elif kind == ActionKind.BULK.value:
        n = len(p["items"])
        rule = RULES[BulkRule(p["rule"])]
        text = f"Bulk: {n} item{'' if n == 1 else 's'}, {amount}, each to {rule}"
    else:
        return ap.summary
    note = (p.get("note") or "").strip()
    return f"{text}. Note: {note}" if note else text


def _resolution(undone: tuple[str, Payload] | None, amount: str, names: Mapping[str, str]) -> str:
    """What an undo takes back, as a noun phrase."""
    action, p = undone or ("", {})
    if action == ActionKind.ASSIGN.value and p.get("account_no"):
        return f"the assignment of {amount} to {_account(p['account_no'], names)}"
    if action == ActionKind.SPLIT.value and p.get("shares"):
        between = " and ".join(_account(s["account_no"], names) for s in p["shares"])
        return f"the split of {amount} between {between}"
    if action == ActionKind.RETURN.value:
        return f"the return of {amount} to {p.get('name') or 'the payer'}"
    if action == ActionKind.NOT_UTILITY.value:
        return f"the marking of {amount} as not a utility payment"
    if action == ActionKind.DUPLICATE.value:
        return f"the marking of {amount} as a duplicate of payment {p.get('of_payment_id')}"
    return f"the resolution of {amount}"
