"""GET /pf/v1/accounts/{account_no}: what the bank shows the payer before the payment."""

from __future__ import annotations

from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from gateway.api.common import Json, problems, read, refuse
from gateway.api.structs import AccountOut, InvoiceOut, LineOut
from gateway.errors import Refused
from gateway.services.accounts import AccountView, lookup
from reconciliation.money import format_amount


def account_out(view: AccountView) -> AccountOut:
    """Bani to strings; personal data arrive already masked from the service."""
    return AccountOut(
        account_no=view.account_no,
        payer=view.payer,
        address=view.address,
        currency="MDL",
        total_due=format_amount(view.total_due),
        invoices=[
            InvoiceOut(
                invoice_no=inv.invoice_no,
                period=inv.period,
                issued_on=inv.issued_on,
                due_on=inv.due_on,
                payment_ref=inv.payment_ref,
                amount_due=format_amount(inv.amount_due),
                lines=[
                    LineOut(
                        ln.service_code,
                        ln.service_name,
                        ln.provider_code,
                        ln.provider_name,
                        format_amount(ln.amount_due),
                    )
                    for ln in inv.lines
                ],
            )
            for inv in view.invoices
        ],
    )


@get(
    "/accounts/{account_no:str}",
    summary="Open invoices of a personal account",
    description="Lines with what is still due; payer name and address masked.",
    responses={
        200: ResponseSpec(AccountOut, description="the open invoices", generate_examples=False),
        **problems(400, 401, 403, 404, 422, 429),
    },
)
async def get_account(request: Request, account_no: FromPath[str]) -> Json:
    try:
        view = await read(request.app.state.engine, lookup, account_no)
    except Refused as exc:
        raise await refuse(request, exc) from None
    return Json(account_out(view))
