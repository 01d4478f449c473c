"""Rendering pages: the Jinja2 environment, its filters, ``page()`` and flash messages.

Every page is ``page(request, "name.html", title=..., **context)``; the base layout
(``templates/base.html``) gets the signed-in person, the navigation their role allows
(``gateway.web.nav``), the flash messages and the CSRF token (sent by htmx from
``hx-headers`` on ``<body>``, and by forms from ``{{ csrf_field() }}``). An htmx request for
a partial gets the template named ``partial=`` instead of the whole page.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request
from litestar.datastructures import FormMultiDict
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from gateway.services.sessions import add_flash
from gateway.web.auth import maybe_who
from gateway.web.nav import nav_for
from reconciliation.model import CITY_TIMEZONE
from reconciliation.money import format_amount
from reconciliation.references import display_account_no

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def money(bani: int | None) -> str:
    """1234567 -> "12 345.67" (thin grouping for reading; the API keeps plain decimals)."""
    if bani is None:
        return ""
    text = format_amount(bani)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, cents = text.partition(".")
    groups = f"{int(whole):,}".replace(",", "\u202f")
    return f"{sign}{groups}.{cents}"


def account(no: str | None) -> str:
    if not no:
        return ""
    return display_account_no(no) if len(no) == 8 and no.isdigit() else no


def iban(value: str | None) -> str:
    value = (value or "").replace(" ", "")
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def when(
    value: datetime | date | None,
    fmt: str = "%Y-%m-%d %H:%M",
    *,
    timezone: str = CITY_TIMEZONE,
) -> str:
    """A moment as the billing centre's clock shows it (``timezone``: ``Settings.timezone``)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return value.astimezone(ZoneInfo(timezone)).strftime(fmt)
    return value.isoformat()


def environment(timezone: str = CITY_TIMEZONE) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=money, account=account, iban=iban, when=partial(when, timezone=timezone)
    )
    return env


def template_config(timezone: str = CITY_TIMEZONE) -> TemplateConfig:
    """The pages' templates; times are shown in ``timezone`` (the app's ``Settings.timezone``)."""
    env = environment(timezone)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page(
    request: Request,
    name: str,
    *,
    partial: str | None = None,
    status: int = 200,
    **context: Any,
) -> Template:
    """The page ``name`` in the base layout, or only ``partial`` for an htmx request."""
    person = maybe_who(request)
    token = _csrf(request)
    context.update(
        who=person,
        nav=nav_for(person.actor) if person else [],
        flashes=person.flashes if person else (),
        csrf_token=token,
        csrf_field=lambda: Markup(
            f'<input type="hidden" name="_csrf_token" value="{escape(token)}">'
        ),
        path=request.url.path,
    )
    chosen = partial if partial and is_htmx(request) else name
    return Template(
        template_name=chosen, context=context, status_code=status, media_type=MediaType.HTML
    )


def _csrf(request: Request) -> str:
    """The token the CSRF middleware chose for this request (cookie value, signed)."""
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


async def flash(request: Request, level: str, text: str) -> None:
    """A message shown once on the person's next page (after a redirect)."""
    person = maybe_who(request)
    if person is not None:
        engine = request.app.state.engine
        await anyio.to_thread.run_sync(add_flash, engine, person.session_id, level, text)


def see_other(path: str) -> Redirect:
    """POST -> redirect -> GET: a reload never resubmits the form."""
    return Redirect(path, status_code=303)


def form_version(form: FormMultiDict) -> int | None:
    """The ``version`` hidden field of an action form: the version the page showed."""
    text = str(form.get("version", "")).strip()
    return int(text) if text.isdigit() else None


def form_token(form: FormMultiDict) -> str | None:
    """The ``form_token`` hidden field: a resubmitted form carries the same one (acts once)."""
    return str(form.get("form_token") or "") or None
