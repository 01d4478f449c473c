"""The item page and its actions: each form posts to one handler that calls one function of
the review service (``gateway.services.review``).

Every action form carries the item's ``version`` as the page showed it and a fresh
``form_token``: a double click or a resubmitted form acts once (the service replays the
first answer), and someone else's action in between is a 409 that re-renders the page with
the fresh state and says what happened. After a resolution the accountant goes back to the
queue, where the keyboard focus is on the item after the one just worked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select

from gateway.db import reading
from gateway.errors import NotFound, UserError
from gateway.services import rawstore, review
from gateway.services.people import Role
from gateway.services.review.reads import show
from gateway.services.review.structs import ActionResult, ReviewConfig, SharePart
from gateway.services.review_item import item_page
from gateway.web.auth import requires, who
from gateway.web.render import flash, form_token, form_version, is_htmx, page, see_other
from reconciliation.money import MoneyError, parse_amount
from reconciliation.references import normalize_account_no
from reconciliation.review import ReviewState
from schemas.tables import raw_files

ACCOUNTANT = [requires(Role.ACCOUNTANT)]
MAX_SHARES = 4


def config_of(request: Request) -> ReviewConfig:
    """The four-eyes amount, learning threshold and allocation policy, built once per app."""
    state = request.app.state
    config = getattr(state, "review_config", None)
    if config is None:
        config = state.review_config = ReviewConfig.from_settings(state.settings)
    return config


def new_token() -> str:
    return uuid.uuid4().hex


async def render_item(
    request: Request, item_id: int, *, status: int = 200, error: str | None = None
) -> Template:
    engine, zone = request.app.state.engine, request.app.state.settings.timezone
    chosen = request.query_params.get("account") or None
    data = await anyio.to_thread.run_sync(lambda: item_page(engine, item_id, chosen, timezone=zone))
    person = who(request)
    return page(
        request,
        "item.html",
        status=status,
        title=f"Item {item_id}",
        p=data,
        error=error,
        new_token=new_token,
        can_act=person.actor.allows(Role.ACCOUNTANT),
        is_open=data.item.state == ReviewState.OPEN.value,
        max_shares=MAX_SHARES,
    )


@get("/items/{item_id:int}", include_in_schema=False)
async def item(request: Request, item_id: FromPath[int]) -> Template:
    return await render_item(request, item_id)


@get("/files/{raw_id:int}", include_in_schema=False)
async def raw_file(request: Request, raw_id: FromPath[int]) -> Response:
    """The payment file exactly as it arrived (from the content-addressed raw store)."""
    engine, settings = request.app.state.engine, request.app.state.settings

    def load() -> tuple[str, bytes]:
        with reading(engine) as conn:
            row = conn.execute(
                select(raw_files.c.sha256, raw_files.c.filename).where(raw_files.c.id == raw_id)
            ).first()
        if row is None:
            raise NotFound(f"no raw file {raw_id}")
        try:
            return row.filename, rawstore.load(settings.raw_dir, row.sha256)
        except FileNotFoundError:
            raise NotFound(f"the bytes of {row.filename} are not in the raw store") from None

    name, data = await anyio.to_thread.run_sync(load)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name.rsplit("/", 1)[-1])
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe or "raw"}"'},
    )


def _account(text: str) -> str:
    canonical = normalize_account_no(text or "")
    if canonical is None:
        raise UserError(f"{text!r} is not an account number (7 digits and a check digit)")
    return canonical


def _bani(text: str, what: str) -> int:
    try:
        return parse_amount(str(text).strip().replace(" ", ""), allow_comma=True)
    except MoneyError:
        raise UserError(f"{what}: not an amount in lei (e.g. 150.00)") from None


async def _act(
    request: Request, item_id: int, call: Callable[[FormMultiDict, Any], ActionResult]
) -> Template | Redirect | Response:
    """Run one action; PRG on success, the page again (409/400) with the reason otherwise."""
    form = await request.form()
    engine = request.app.state.engine
    try:
        result = await anyio.to_thread.run_sync(lambda: call(form, engine))
    except review.ItemConflict as exc:
        if is_htmx(request):
            raise
        return await render_item(request, item_id, status=409, error=str(exc))
    except UserError as exc:
        if is_htmx(request) or type(exc).__name__ in ("Forbidden", "NotFound"):
            raise
        return await render_item(request, item_id, status=400, error=str(exc))
    level = "success" if result.outcome == "done" else "info"
    message = result.message + (" (again: nothing changed)" if result.replayed else "")
    if is_htmx(request):
        resolved = result.state != ReviewState.OPEN.value
        headers = {"HX-Trigger": f'{{"plata:resolved": {{"item": {item_id}}}}}'} if resolved else {}
        context = {"level": level, "text": message}
        return Template(
            template_name="_flash.html", context=context, headers=headers, media_type=MediaType.HTML
        )
    await flash(request, level, message)
    still_here = result.state == ReviewState.OPEN.value and result.action in (
        "claim", "release", "comment",
    )  # fmt: skip
    return see_other(f"/app/items/{item_id}" if still_here else "/app/queue")


def _common(form: FormMultiDict) -> dict[str, Any]:
    return {"expected_version": form_version(form), "form_token": form_token(form)}


Parse = Callable[[FormMultiDict], dict[str, Any]]


def _texts(*names: str) -> Parse:
    """The form's text fields of these names, as the service's keyword arguments."""
    return lambda form: {name: str(form.get(name, "")) for name in names}


def _assign_args(form: FormMultiDict) -> dict[str, Any]:
    invoices = [str(v) for v in form.getall("invoices", []) if v]
    account_no = _account(str(form.get("account_no", "")))
    return {
        "account_no": account_no,
        "invoices": invoices or None,
        "note": str(form.get("note", "")),
    }


def _split_args(form: FormMultiDict) -> dict[str, Any]:
    shares = []
    for n in range(1, MAX_SHARES + 1):
        acc, amount = str(form.get(f"account_{n}", "")), str(form.get(f"amount_{n}", ""))
        if acc.strip() or amount.strip():
            shares.append(SharePart(_account(acc), _bani(amount, f"share {n}")))
    return {"shares": shares, "note": str(form.get("note", ""))}


def _duplicate_args(form: FormMultiDict) -> dict[str, Any]:
    of = str(form.get("of_payment_id", "")).strip()
    if not of.isdigit():
        raise UserError("name the payment this one repeats (its number)")
    outcome = str(form.get("outcome", "return"))
    return {"of_payment_id": int(of), "outcome": outcome, **_texts("iban", "name", "reason")(form)}


def _resolution(path: str, action: Callable[..., ActionResult], parse: Parse) -> HTTPRouteHandler:
    """The handler of a resolution form: ``action`` with what ``parse`` reads from the form,
    the form's version and token, and the app's review settings."""

    @post(f"/items/{{item_id:int}}/{path}", guards=ACCOUNTANT, include_in_schema=False)
    async def resolution(request: Request, item_id: FromPath[int]) -> Any:
        actor, config = who(request).actor, config_of(request)

        def call(form: FormMultiDict, engine: Any) -> ActionResult:
            return action(engine, actor, item_id, **parse(form), config=config, **_common(form))

        return await _act(request, item_id, call)

    return resolution


RESOLUTIONS = [
    _resolution("assign", review.assign, _assign_args),
    _resolution("split", review.split, _split_args),
    _resolution("return", review.return_to_payer, _texts("iban", "name", "reason")),
    _resolution("not-utility", review.not_utility, _texts("reason")),
    _resolution("duplicate", review.mark_duplicate, _duplicate_args),
    _resolution("undo", review.undo, _texts("reason")),
]


@post("/items/{item_id:int}/accept", guards=ACCOUNTANT, include_in_schema=False)
async def accept(request: Request, item_id: FromPath[int]) -> Any:
    """The queue's "a": the best candidate, by the allocation policy."""
    actor, config = who(request).actor, config_of(request)

    def call(form: FormMultiDict, engine: Any) -> ActionResult:
        state = show(engine, item_id).item
        if not state.candidates:
            raise UserError(f"item {item_id} has no candidate to accept; open it")
        version = form_version(form) or state.version
        return review.assign(
            engine, actor, item_id, state.candidates[0].account_no, note="best candidate",
            expected_version=version, form_token=form_token(form), config=config,
        )  # fmt: skip

    return await _act(request, item_id, call)


@post("/items/{item_id:int}/claim", guards=ACCOUNTANT, include_in_schema=False)
async def claim(request: Request, item_id: FromPath[int]) -> Any:
    actor = who(request).actor

    def call(form: FormMultiDict, engine: Any) -> ActionResult:
        if form.get("release"):
            return review.release(engine, actor, item_id, **_common(form))
        take_over = bool(form.get("take_over"))
        return review.claim(engine, actor, item_id, take_over=take_over, **_common(form))

    return await _act(request, item_id, call)


@post("/items/{item_id:int}/comment", guards=ACCOUNTANT, include_in_schema=False)
async def comment(request: Request, item_id: FromPath[int]) -> Any:
    actor = who(request).actor

    def call(form: FormMultiDict, engine: Any) -> ActionResult:
        text = str(form.get("text", ""))
        return review.comment(engine, actor, item_id, text, form_token=form_token(form))

    return await _act(request, item_id, call)


handlers = [item, raw_file, *RESOLUTIONS, accept, claim, comment]
