"""Finance pages: the daily report with its red lines, the day close, payment orders, charts.

Everyone signed in reads the report and the charts (viewers read reports); closing a day,
acknowledging findings and creating or downloading payment orders need supervisor or
finance. Every action is a POST with the CSRF token, then a redirect (a reload never closes
twice; closing a closed day and creating orders again are no-ops anyway).
"""

from __future__ import annotations

from datetime import date, timedelta

import anyio.to_thread
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import Engine, func, select

from gateway.collectors import load_collectors
from gateway.db import AnyRow, reading
from gateway.errors import UserError
from gateway.services.day_close import close_day, open_days, report_bytes
from gateway.services.finance_charts import ChartData, chart_data
from gateway.services.orders import create_orders, list_orders, mark_sent, order_file
from gateway.services.people import Role
from gateway.services.report import daily_report
from gateway.web.auth import PREFIX, requires, settings_of, who
from gateway.web.charts import signed_days, stacked_days
from gateway.web.nav import NAV, NavItem
from gateway.web.render import flash, page, see_other
from reconciliation.daily import DailyReport
from reconciliation.service import business_today
from schemas.tables import business_days, payments

BASE = f"{PREFIX}/finance"
CLOSERS = (Role.SUPERVISOR, Role.FINANCE)
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}

NAV.append(NavItem("Daily report", f"{BASE}/day", Role.VIEWER, "d"))
NAV.append(NavItem("Orders", f"{BASE}/orders", Role.VIEWER, "o"))
NAV.append(NavItem("Charts", f"{BASE}/charts", Role.VIEWER, "c"))


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _zone(request: Request) -> str:
    return settings_of(request).timezone


def _latest_day(engine: Engine) -> date | None:
    with reading(engine) as conn:
        return conn.execute(select(func.max(payments.c.business_day))).scalar()


def _closed(engine: Engine, day: date) -> AnyRow | None:
    with reading(engine) as conn:
        return conn.execute(select(business_days).where(business_days.c.day == day)).first()


@get("/finance/day", include_in_schema=False)
async def latest(request: Request) -> Redirect:
    day = await anyio.to_thread.run_sync(_latest_day, _engine(request))
    return see_other(f"{BASE}/day/{day or business_today(_zone(request))}")


@get("/finance/day/{day:date}", include_in_schema=False)
async def day_page(request: Request, day: FromPath[date]) -> Template:
    engine, settings = _engine(request), settings_of(request)
    collectors = load_collectors(settings)

    def load() -> tuple[DailyReport, AnyRow | None, list[tuple[date, int]]]:
        with reading(engine) as conn:
            days = open_days(conn)
        report = daily_report(engine, day, collectors, timezone=settings.timezone)
        return report, _closed(engine, day), days

    report, closed, days = await anyio.to_thread.run_sync(load)
    person = who(request)
    return page(
        request,
        "finance_day.html",
        title=f"Daily report {day}",
        day=day,
        report=report,
        sections={s.name: s for s in report.sections},
        closed=closed if closed is not None and closed.status == "closed" else None,
        open_days=days,
        can_close=any(person.actor.allows(r) for r in CLOSERS),
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
    )


@get("/finance/day/{day:date}/report/{fmt:str}", include_in_schema=False)
async def download_report(request: Request, day: FromPath[date], fmt: FromPath[str]) -> Response:
    if fmt not in MEDIA:
        raise NotFoundException("no such format")
    collectors = load_collectors(settings_of(request))
    data = await anyio.to_thread.run_sync(
        lambda: report_bytes(_engine(request), day, fmt, collectors, timezone=_zone(request))
    )
    return Response(
        data,
        media_type=MEDIA[fmt],
        headers={"content-disposition": f'attachment; filename="daily-report-{day}.{fmt}"'},
    )


@post("/finance/day/{day:date}/close", guards=[requires(*CLOSERS)], include_in_schema=False)
async def close(request: Request, day: FromPath[date]) -> Redirect:
    form = await request.form()
    acks = {
        str(k)[4:]: str(v).strip()
        for k, v in form.items()
        if str(k).startswith("ack:") and str(v).strip()
    }
    person = who(request)
    settings = settings_of(request)
    collectors = load_collectors(settings)
    try:
        result = await anyio.to_thread.run_sync(
            lambda: close_day(
                _engine(request),
                day,
                person.actor,
                acks=acks,
                collectors=collectors,
                timezone=settings.timezone,
            )
        )
    except UserError as exc:
        await flash(request, "error", str(exc))
        return see_other(f"{BASE}/day/{day}")
    state = "was already closed" if result.already else "is closed"
    await flash(request, "ok", f"Day {day} {state}. Snapshot sha256 {result.sha256[:16]}…")
    return see_other(f"{BASE}/day/{day}")


@get("/finance/orders", include_in_schema=False)
async def orders_page(request: Request) -> Template:
    orders = await anyio.to_thread.run_sync(lambda: list_orders(_engine(request)))
    person = who(request)
    return page(
        request,
        "finance_orders.html",
        title="Payment orders",
        orders=orders,
        can_order=any(person.actor.allows(r) for r in CLOSERS),
        today=business_today(_zone(request)),
    )


@post("/finance/orders", guards=[requires(*CLOSERS)], include_in_schema=False)
async def orders_create(request: Request) -> Redirect:
    form = await request.form()
    person, settings = who(request), settings_of(request)
    try:
        day = date.fromisoformat(str(form.get("day", "")))
        result = await anyio.to_thread.run_sync(
            lambda: create_orders(_engine(request), day, person.actor, settings)
        )
    except ValueError:
        await flash(request, "error", "Choose the day (YYYY-MM-DD).")
        return see_other(f"{BASE}/orders")
    except UserError as exc:
        await flash(request, "error", str(exc))
        return see_other(f"{BASE}/orders")
    made = [o for o in result.orders if o.new]
    text = (
        f"Created {', '.join(o.filename for o in made)}."
        if made
        else f"Nothing new to pay for {day}: the existing files stand."
    )
    await flash(request, "ok", text)
    return see_other(f"{BASE}/orders")


@get("/finance/orders/{order_id:int}/file", guards=[requires(*CLOSERS)], include_in_schema=False)
async def order_download(request: Request, order_id: FromPath[int]) -> Response:
    try:
        summary, data = await anyio.to_thread.run_sync(
            lambda: order_file(_engine(request), order_id)
        )
    except UserError as exc:
        raise NotFoundException(str(exc)) from None
    return Response(
        data,
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{summary.filename}"'},
    )


@post("/finance/orders/{order_id:int}/sent", guards=[requires(*CLOSERS)], include_in_schema=False)
async def order_sent(request: Request, order_id: FromPath[int]) -> Redirect:
    person = who(request)
    await anyio.to_thread.run_sync(lambda: mark_sent(_engine(request), order_id, person.actor))
    await flash(request, "ok", f"Order {order_id} marked as sent to the bank.")
    return see_other(f"{BASE}/orders")


@get("/finance/charts", include_in_schema=False)
async def charts(request: Request) -> Template:
    engine, zone = _engine(request), _zone(request)
    end_text = request.query_params.get("end")
    end = date.fromisoformat(end_text) if end_text else None

    def load() -> ChartData:
        day = end or _latest_day(engine) or business_today(zone)
        return chart_data(engine, day, timezone=zone)

    data = await anyio.to_thread.run_sync(load)
    return page(
        request,
        "finance_charts.html",
        title="Finance charts",
        data=data,
        collections=stacked_days("Collections by channel per day", data.days, data.collections),
        backlog=stacked_days("Review backlog by age", data.days, data.backlog, unit="items"),
        settlement=signed_days("Settlement differences per day", data.days, data.settlement),
    )


handlers = [
    latest,
    day_page,
    download_report,
    close,
    orders_page,
    orders_create,
    order_download,
    order_sent,
    charts,
]
