"""The DB-aware side of reconciliation: load a batch's world once, persist results in bulk.

The pure core (match.py, allocate.py, plan.py) never sees a connection. Callers (the file
ingest, the bank API, the review queue) use these functions to load what a batch needs in
one or two queries, run the core in memory, and write payments and allocations with
set-based inserts. One module per concern:

- ``load``: loaders (accounts, open lines, advance credit, invoices named by a batch);
- ``book``: ``AccountBook``, the city's accounts with names loaded only where asked for;
- ``credits``: one round of residents' credits, matched, checked for duplicates, planned;
- ``write``: bulk inserts of payments, allocations and review items; reversals;
- ``apply``: ``apply_records``, the entry point for a parsed file or batch;
- ``settle``: collectors' lump sums paired with their registries;
- ``advance``: advance credit consumed by new invoices.
"""

from reconciliation.plan import allocation_kind
from reconciliation.service.advance import consume_advances
from reconciliation.service.apply import ROUND_SIZE, apply_records, business_today
from reconciliation.service.book import AccountBook
from reconciliation.service.credits import load_index
from reconciliation.service.load import (
    RefIds,
    load_account_infos,
    load_accounts,
    load_advance_credit,
    load_open_lines,
)
from reconciliation.service.settle import settle_pending
from reconciliation.service.write import insert_allocations, reverse_allocations

__all__ = [
    "ROUND_SIZE",
    "AccountBook",
    "RefIds",
    "allocation_kind",
    "apply_records",
    "business_today",
    "consume_advances",
    "insert_allocations",
    "load_account_infos",
    "load_accounts",
    "load_advance_credit",
    "load_index",
    "load_open_lines",
    "reverse_allocations",
    "settle_pending",
]
