"""What planning one record read of the database, and what another writer's rows touch.

Both as keys of one shape, so "did a commit since the snapshot change what this plan read"
is a set intersection (``reconciliation.service.rounds`` uses it to write plans made
outside SQLite's write lock). A key is a short string:

- ``a:<account_no>``: the account's open lines (invoices, allocations), its stored payments
  in the duplicate window;
- ``r:<bank ref>``: stored payments with that account servicer ref or end-to-end id (as the
  duplicate check compares them: placeholders such as NOTPROVIDED left out);
- ``i:<external_id>``: a stored payment of the file's source with that id (already known);
- ``n:<invoice_no>``, ``f:<RF ref>``: an invoice looked up by number or payment reference.

A record's keys cover every account its decisions touched (``plan.touched``: the accounts
whose lines or holder the matcher read, the notion the service's own second match relies
on), at each stage (first match, second match, learned rules), the accounts and invoices it
mentions (and, for a number no account has, its one-keystroke corrections, which the first
load reads too), the accounts of those invoices, where its plan put money, and its bank refs. The
accounts' existence, status and names are not keys: the ingest reads them once per file
(``AccountBook``), as it always has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciliation.match import _PLACEHOLDER_REFS as PLACEHOLDER_REFS  # the duplicate check's
from reconciliation.match import CityIndex, one_keystroke
from reconciliation.model import Decision
from reconciliation.plan import Mentions, Planned, touched

Keys = frozenset[str]


def merged(each: Iterable[Mentions]) -> Mentions:
    """One batch's mentions from its records' (``mentions`` of each record alone)."""
    out = Mentions()
    for m in each:
        out.accounts |= m.accounts
        out.invoices |= m.invoices
        out.refs |= m.refs
    return out


def record_reads(
    each: Sequence[Mentions], stages: Sequence[Sequence[Decision]], index: CityIndex
) -> list[Keys]:
    """Per record, the keys its matching read: ``each`` its mentions, ``stages`` the batch's
    decisions after each step (one list per step, aligned with the records)."""
    out = []
    ref_invoice, invoice_account, city = index.ref_invoice, index.invoice_account, index.accounts
    for i, m in enumerate(each):
        keys = {"a:" + a for a in m.accounts if a in city}
        for no in m.accounts:  # a number no account has: the corrections the matcher reads
            if no not in city:
                keys.update("a:" + acc for acc, _, _ in one_keystroke(no) if acc in city)
        keys.update("n:" + n for n in m.invoices)
        keys.update("f:" + f for f in m.refs if f)
        for n in (*m.invoices, *(ref_invoice.get(f, "") for f in m.refs)):
            if n in invoice_account:
                keys.add("a:" + invoice_account[n])
        for decisions in stages:
            keys.update("a:" + a for a in touched(decisions[i]))
        out.append(frozenset(keys))
    return out


def plan_keys(plan: Planned, reads: Iterable[str] = ()) -> Keys:
    """Everything ``plan`` depends on or changes: ``reads`` and its ``effect_keys``."""
    return frozenset(effect_keys(plan)).union(reads)


def effect_keys(plan: Planned) -> set[str]:
    """What later plans can see of ``plan`` once written: its identity, its bank refs and
    the accounts it is stored under or pays (name suggestions read nothing stored)."""
    r = plan.record
    keys = {"i:" + r.external_id}
    for ref in (r.account_servicer_ref, r.end_to_end_id):
        if ref and ref.strip().upper() not in PLACEHOLDER_REFS:
            keys.add("r:" + ref)
    if plan.account_no:
        keys.add("a:" + plan.account_no)
    keys.update("a:" + row.account_no for row in plan.rows)
    return keys


def effect(plan: Planned | None) -> tuple:
    """What later records can see of a written plan: its status, account and money."""
    if plan is None:
        return ()
    rows = tuple((r.account_no, r.line_id, r.amount) for r in plan.rows)
    return (plan.status, plan.account_no, plan.reason, rows)
