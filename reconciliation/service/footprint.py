"""What planning one record read of the database, and what another writer's rows touch.

Both as keys of one shape, so "did a commit since the snapshot change what this plan read"
is a set intersection (``reconciliation.service.rounds`` uses it to write plans made
outside SQLite's write lock). A key is a short string:

- ``a:<account_no>``: the account's open lines (invoices, allocations), its stored payments
  in the duplicate window;
- ``r:<bank ref>``: stored payments with that account servicer ref or end-to-end id;
- ``i:<external_id>``: a stored payment of the file's source with that id (already known);
- ``n:<invoice_no>``, ``f:<RF ref>``: an invoice looked up by number or payment reference.

A record's keys cover every account its decisions touched (``plan.touched``: the accounts
whose lines or holder the matcher read, the notion the service's own second match relies
on), at each stage (first match, second match, learned rules), the accounts and invoices it
mentions, the accounts of those invoices, where its plan put money, and its bank refs. The
accounts' existence, status and names are not keys: the ingest reads them once per file
(``AccountBook``), as it always has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciliation.match import CityIndex, SeenPayment
from reconciliation.model import Decision, PaymentRecord
from reconciliation.plan import Planned, mentions, touched

Keys = frozenset[str]


def bank_refs(record: PaymentRecord) -> tuple[str, ...]:
    """The refs the duplicate check compares (placeholders such as NOTPROVIDED left out)."""
    return SeenPayment.of("", "", record, None).bank_refs


def record_reads(
    records: Sequence[PaymentRecord], stages: Sequence[Sequence[Decision]], index: CityIndex
) -> list[Keys]:
    """Per record, the keys its matching read: ``stages`` are the batch's decisions after
    each step (one list per step, each aligned with ``records``)."""
    out = []
    for i, r in enumerate(records):
        m = mentions([r])
        keys = {f"a:{a}" for a in m.accounts}
        keys.update(f"n:{n}" for n in m.invoices)
        keys.update(f"f:{f}" for f in m.refs if f)
        invoices = set(m.invoices) | {index.ref_invoice.get(f, "") for f in m.refs}
        keys.update(f"a:{index.invoice_account[n]}" for n in invoices if n in index.invoice_account)
        for decisions in stages:
            keys.update(f"a:{a}" for a in touched(decisions[i]))
        out.append(frozenset(keys))
    return out


def plan_keys(plan: Planned, reads: Iterable[str] = ()) -> Keys:
    """Everything ``plan`` depends on or changes: ``reads``, its identity, its bank refs and
    the accounts it is stored under or pays (name suggestions read nothing stored)."""
    keys = set(reads)
    keys.add(f"i:{plan.record.external_id}")
    keys.update(f"r:{x}" for x in bank_refs(plan.record))
    if plan.account_no:
        keys.add(f"a:{plan.account_no}")
    keys.update(f"a:{row.account_no}" for row in plan.rows)
    return frozenset(keys)


def effect(plan: Planned | None) -> tuple:
    """What later records can see of a written plan: its status, account and money."""
    if plan is None:
        return ()
    rows = tuple((r.account_no, r.line_id, r.amount) for r in plan.rows)
    return (plan.status, plan.account_no, plan.reason, rows)
