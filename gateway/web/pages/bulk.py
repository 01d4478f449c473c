"""Bulk acceptance: select by filter, see the preview (counts, sums, what each item would
get), ask for it; a supervisor who did not ask approves it on the approvals page, and the
review service applies it in batches (``gateway.services.review.bulk``), each item re-checked
at its version. The preview is a plain GET (a link one can share); the request is a POST.
"""

from __future__ import annotations

import uuid

import anyio.to_thread
from litestar import Request, get, post
from litestar.response import Redirect, Template

from gateway.errors import UserError
from gateway.services.people import Role
from gateway.services.review import bulk
from gateway.web.auth import requires, who
from gateway.web.pages.queue import parse_filter
from gateway.web.render import flash, page, see_other
from reconciliation.review import ReasonCode

RULES = {
    bulk.BulkRule.UNIQUE_CORRECTION_EXACT: "the unique check-digit correction whose open total "
    "equals the amount",
    bulk.BulkRule.BEST_EXACT: "the best candidate, when its open total equals the amount",
    bulk.BulkRule.BEST: "the best candidate, whatever the amount",
}
FIELDS = ("reason", "channel", "source", "day_from", "day_to", "amount_min", "amount_max")


def _bulk_filter(params: dict[str, str]) -> bulk.BulkFilter:
    f = parse_filter({k: v for k, v in params.items() if k in FIELDS})
    return bulk.BulkFilter(
        reason=f.reason.value if f.reason else None, channel=f.channel, source=f.source,
        day_from=f.day_from, day_to=f.day_to, amount_min=f.amount_min, amount_max=f.amount_max,
    )  # fmt: skip


def _rule(text: str) -> bulk.BulkRule:
    try:
        return bulk.BulkRule(text or bulk.BulkRule.UNIQUE_CORRECTION_EXACT)
    except ValueError:
        raise UserError(f"unknown rule {text!r}") from None


@get("/bulk", include_in_schema=False)
async def bulk_page(request: Request) -> Template:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    rule, flt = _rule(params.get("rule", "")), _bulk_filter(params)
    actor, engine = who(request).actor, request.app.state.engine
    shown = "preview" in params
    result = (
        await anyio.to_thread.run_sync(lambda: bulk.preview(engine, actor, flt, rule))
        if shown
        else None
    )
    return page(
        request, "bulk.html", title="Bulk acceptance", rules=RULES, rule=rule.value,
        f={k: params[k] for k in FIELDS if params.get(k)}, reasons=list(ReasonCode),
        preview=result, token=uuid.uuid4().hex,
        can_request=who(request).actor.allows(Role.ACCOUNTANT),
    )  # fmt: skip


@post("/bulk", guards=[requires(Role.ACCOUNTANT)], include_in_schema=False)
async def bulk_request(request: Request) -> Redirect:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    rule, flt = _rule(params.get("rule", "")), _bulk_filter(params)
    actor, engine = who(request).actor, request.app.state.engine
    result = await anyio.to_thread.run_sync(
        lambda: bulk.request(engine, actor, flt, rule, note=params.get("note", ""),
                             form_token=params.get("form_token") or None)
    )  # fmt: skip
    await flash(request, "info", result.message)
    return see_other("/app/approvals")


handlers = [bulk_page, bulk_request]
