"""The queue page: every open review item, filtered and searched, worked from the keyboard.

The filter form is a plain GET form (so a filtered queue is a link one can share); htmx
submits it as the person types and swaps only the table (``_queue_table.html``), pushing the
URL. Keyboard (``static/app.js``): j/k move, Enter opens, a accepts the best candidate; after
an action the row leaves and the next one takes the focus.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.response import Template

from gateway.errors import UserError
from gateway.services.review_queue import (
    AgeBucket,
    QueueFilter,
    QueueSort,
    filter_choices,
    list_queue,
)
from gateway.web.render import page
from reconciliation.money import MoneyError, parse_amount
from reconciliation.review import ReasonCode

SORTS = {
    QueueSort.OLDEST: "oldest first",
    QueueSort.NEWEST: "newest first",
    QueueSort.AMOUNT_DESC: "largest amount",
    QueueSort.AMOUNT_ASC: "smallest amount",
    QueueSort.SCORE: "best candidate score",
}
FIELDS = ("reason", "channel", "source", "day_from", "day_to", "amount_min", "amount_max",
          "age", "claimed", "q", "sort")  # fmt: skip


def _amount(text: str, name: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_amount(text.strip().replace(" ", ""), allow_comma=True)
    except MoneyError:
        raise UserError(f"{name}: not an amount in lei (e.g. 150.00)") from None


def _day(text: str, name: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{name}: not a date (YYYY-MM-DD)") from None


def _choice(kind: Any, text: str, name: str) -> Any:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise UserError(f"{name}: unknown value {text!r}") from None


def parse_filter(params: dict[str, str]) -> QueueFilter:
    """The queue filter from the page's query parameters; a bad value is a clear 400."""
    claimed = params.get("claimed", "")
    return QueueFilter(
        reason=_choice(ReasonCode, params.get("reason", ""), "reason"),
        channel=params.get("channel") or None,
        source=params.get("source") or None,
        day_from=_day(params.get("day_from", ""), "from day"),
        day_to=_day(params.get("day_to", ""), "to day"),
        amount_min=_amount(params.get("amount_min", ""), "minimum amount"),
        amount_max=_amount(params.get("amount_max", ""), "maximum amount"),
        age=_choice(AgeBucket, params.get("age", ""), "age"),
        claimed_by=None if claimed == "" else ("" if claimed == "-" else claimed),
        q=params.get("q") or None,
        sort=_choice(QueueSort, params.get("sort", ""), "sort") or QueueSort.OLDEST,
        after=params.get("after") or None,
    )


@get("/queue", include_in_schema=False)
async def queue(request: Request) -> Template:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    filt = parse_filter(params)
    engine, zone = request.app.state.engine, request.app.state.settings.timezone
    result, choices = await anyio.to_thread.run_sync(
        lambda: (list_queue(engine, filt, timezone=zone), filter_choices(engine))
    )
    kept = {k: params[k] for k in FIELDS if params.get(k)}
    return page(
        request,
        "queue.html",
        partial="_queue_table.html",
        title="Review queue",
        result=result,
        f=kept,
        first_page=not filt.after,
        reasons=list(ReasonCode),
        ages=list(AgeBucket),
        sorts=SORTS,
        choices=choices,
    )


handlers = [queue]
