"""The payment page: one payment in full with its allocation rows, and for a payment the
matcher placed automatically the "Unmatch" form (``review.unmatch``: always four-eyes, the
request waits on *Approvals*; once approved the payment is back in the queue as an item,
reason UNMATCHED). A person reaches it from the account page's recent payments.

The form carries the payment's version (``payment_view.payment_version``) and a one-time
token like the item page's forms: a double click asks once, and a payment whose money moved
since the page was shown comes back as the fresh page with the reason (409).
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.errors import Conflict, Forbidden, NotFound, UserError
from gateway.services import review
from gateway.services.payment_view import payment_view
from gateway.services.people import Role
from gateway.web.auth import requires, who
from gateway.web.render import flash, form_token, form_version, page, see_other


async def render_payment(
    request: Request, payment_id: int, *, status: int = 200, error: str | None = None
) -> Template:
    engine = request.app.state.engine
    view = await anyio.to_thread.run_sync(lambda: payment_view(engine, payment_id))
    return page(
        request, "payment.html", status=status, title=f"Payment {payment_id}", v=view,
        error=error, token=uuid.uuid4().hex,
        can_act=who(request).actor.allows(Role.ACCOUNTANT),
    )  # fmt: skip


@get("/payments/{payment_id:int}", include_in_schema=False)
async def payment(request: Request, payment_id: FromPath[int]) -> Template:
    return await render_payment(request, payment_id)


@post("/payments/{payment_id:int}/unmatch", guards=[requires(Role.ACCOUNTANT)],
      include_in_schema=False)  # fmt: skip
async def unmatch(request: Request, payment_id: FromPath[int]) -> Template | Redirect:
    form = await request.form()
    actor, engine = who(request).actor, request.app.state.engine
    version, token = form_version(form), form_token(form)

    def call() -> Any:
        return review.unmatch(engine, actor, payment_id, reason=str(form.get("reason", "")),
                              form_token=token, expected_version=version)  # fmt: skip

    try:
        result = await anyio.to_thread.run_sync(call)
    except (Forbidden, NotFound):
        raise
    except Conflict as exc:
        return await render_payment(request, payment_id, status=409, error=str(exc))
    except UserError as exc:
        return await render_payment(request, payment_id, status=400, error=str(exc))
    message = result.message + (" (again: nothing changed)" if result.replayed else "")
    await flash(request, "info", message)
    return see_other(f"/app/payments/{payment_id}")


handlers = [payment, unmatch]
