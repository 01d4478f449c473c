"""``allocations`` joined to what its ids name, for every reader that shows rows by their codes
(the allocations export, the payment page, an undo's rows to compensate).

The account is always there; the invoice (through its line), the service and the provider
are outer joins, since an advance or a credit row has no invoice line and may have no service.
"""

from __future__ import annotations

from sqlalchemy import Join

from schemas.tables import accounts, allocations, invoice_lines, invoices, providers, services


def named_allocations() -> Join:
    """``allocations`` with ``accounts``, ``invoice_lines``, ``invoices``, ``services`` and
    ``providers``: select their columns from it; one row per allocation row."""
    a = allocations
    return (
        a.join(accounts, accounts.c.id == a.c.account_id)
        .outerjoin(invoice_lines, invoice_lines.c.id == a.c.invoice_line_id)
        .outerjoin(invoices, invoices.c.id == invoice_lines.c.invoice_id)
        .outerjoin(services, services.c.id == a.c.service_id)
        .outerjoin(providers, providers.c.id == a.c.provider_id)
    )
