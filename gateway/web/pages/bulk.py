"""Bulk acceptance: select by filter, see the preview (counts, sums, what each item would
get), ask for it; a supervisor who did not ask approves it on the approvals page, and the
review service applies it in batches (``gateway.services.review.bulk``), each item re-checked
at its version. The preview is a plain GET (a link one can share); the request is a POST.

Progress while an approved request runs. Decision: the run stays within the supervisor's
approval request (``review.approve`` runs the batches after committing the decision), and the
approvals page shows its progress by polling a small fragment (``/app/bulk/N/progress``)
that reads the progress each committed batch writes on the approval row. No background
worker: nothing to start, supervise or lose on a restart, and the result is whatever the
committed batches did. The approve button posts with htmx and starts the polling at the same
moment; when the run ends the page goes to the approved list, where the same fragment shows
the result (resolved / skipped). Anyone opening the approvals page meanwhile sees the
progress too (the request is approved as soon as the run starts). A run whose process died
stops moving; after ``STALLED_AFTER`` without a batch the fragment says it stopped and polls
no more. Without JavaScript the form posts as before and the flash gives the result.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import anyio.to_thread
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.errors import UserError
from gateway.services.people import Role
from gateway.services.review import bulk
from gateway.services.review.bulk_progress import BulkProgress, progress_of
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


def _state(prog: BulkProgress) -> str:
    if prog.finished:
        return "finished"
    if prog.stalled(datetime.now(UTC)):
        return "stalled"
    return {"pending": "waiting", "approved": "running"}.get(prog.status, prog.status)


@get("/bulk/{approval_id:int}/progress", include_in_schema=False)
async def progress(request: Request, approval_id: FromPath[int]) -> Template:
    """The progress fragment; it asks again shortly while the run is waiting or running."""
    engine = request.app.state.engine
    prog = await anyio.to_thread.run_sync(lambda: progress_of(engine, approval_id))
    state = _state(prog)
    return page(request, "_bulk_progress.html", b=prog, state=state,
                poll=state in ("waiting", "running"))  # fmt: skip


handlers = [bulk_page, bulk_request, progress]
