"""``gateway export|report|day|orders``: finance's commands on a business day (exports, the
daily report, the day close, payment orders).

Each command calls the same service as the finance pages, on the settings' time zone; a
refusal (an open finding, an open day) is a ``UserError`` line printed by
``gateway.cli.main``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli_common import day_arg, engine
from gateway.errors import UserError
from gateway.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.export import export

    n = export(engine(settings), args.kind, args.day, Path(args.out), args.format)
    print(f"{n} {args.kind} rows for {args.day} written to {args.out}")
    return 0


def cmd_report_daily(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.collectors import load_collectors
    from gateway.services.day_close import report_bytes

    data = report_bytes(
        engine(settings),
        args.day,
        args.format,
        load_collectors(settings),
        timezone=settings.timezone,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"daily report of {args.day} ({args.format}) written to {out}")
    return 0


def cmd_day_close(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.collectors import load_collectors
    from gateway.errors import Conflict
    from gateway.services.day_close import close_day
    from gateway.services.people import CLI_ACTOR

    acks = dict(_ack(a) for a in args.ack)
    try:
        result = close_day(
            engine(settings),
            args.day,
            CLI_ACTOR,
            acks=acks,
            collectors=load_collectors(settings),
            timezone=settings.timezone,
        )
    except Conflict as exc:
        raise Conflict(f"{exc} [--ack KEY=comment]") from None
    state = "was already closed" if result.already else "closed"
    print(f"day {result.day} {state}; report snapshot sha256 {result.sha256}")
    return 0


def _ack(text: str) -> tuple[str, str]:
    key, sep, comment = text.partition("=")
    if not sep or not key.strip() or not comment.strip():
        raise UserError(f"--ack takes FINDING=comment, not {text!r}")
    return key.strip(), comment.strip()


def cmd_day_status(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.collectors import load_collectors
    from gateway.services.day_close import day_status

    days = day_status(engine(settings), load_collectors(settings), timezone=settings.timezone)
    if not days:
        print("no open days")
    for d in days:
        state = "ready to close" if not d.blocking else f"{len(d.blocking)} blocking finding(s)"
        print(f"{d.day}  {d.payments} payments  {state}")
        for key, detail in d.blocking:
            print(f"    {key}: {detail}")
    return 0


def cmd_orders_create(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.orders import create_orders
    from gateway.services.people import CLI_ACTOR
    from reconciliation.money import format_amount

    result = create_orders(engine(settings), args.day, CLI_ACTOR, settings)
    if not result.orders:
        print(f"nothing to pay for {args.day}")
    for o in result.orders:
        state = "created" if o.new else "exists (nothing new owed)"
        print(
            f"order {o.id} {o.kind} {o.business_day} no. {o.number}: {o.count} transfers, "
            f"{format_amount(o.total)} MDL, sha256 {o.sha256}: {state}"
        )
    for over in result.overpaid:
        print(
            f"warning: {over.provider} was paid {format_amount(over.paid)} for {args.day}, "
            f"owed {format_amount(over.owed)}: settle the excess by hand"
        )
    return 0


def cmd_orders_list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.orders import list_orders
    from reconciliation.money import format_amount

    orders = list_orders(engine(settings))
    if not orders:
        print("no payment orders")
    for o in orders:
        print(
            f"{o.id}\t{o.business_day}\t{o.kind}\tno. {o.number}\t{o.state}\t"
            f"{o.count} transfers\t{format_amount(o.total)}\t{o.filename}"
        )
    return 0


def cmd_orders_show(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.orders import order_file

    summary, data = order_file(engine(settings), args.id)
    Path(args.out).write_bytes(data)
    print(f"{summary.filename} ({summary.state}) written to {args.out}")
    return 0


def cmd_orders_sent(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.orders import mark_sent
    from gateway.services.people import CLI_ACTOR

    mark_sent(engine(settings), args.id, CLI_ACTOR)
    print(f"order {args.id} marked sent")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway export``, ``report daily``, ``day close|status``, ``orders ...``."""
    ex = sub.add_parser("export", help="CSV of a day's payments or allocations")
    ex.add_argument("kind", choices=["payments", "allocations"])
    ex.add_argument("--day", type=day_arg, required=True)
    ex.add_argument("--out", required=True)
    ex.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ex.set_defaults(func=cmd_export)

    rep = sub.add_parser("report", help="finance reports").add_subparsers(
        dest="rep_cmd", required=True
    )
    rd = rep.add_parser("daily", help="the daily reconciliation of a business day")
    rd.add_argument("--day", type=day_arg, required=True)
    rd.add_argument("--format", choices=["xlsx", "csv", "json"], default="xlsx")
    rd.add_argument("--out", required=True)
    rd.set_defaults(func=cmd_report_daily)

    dy = sub.add_parser("day", help="business days").add_subparsers(dest="day_cmd", required=True)
    dc = dy.add_parser("close", help="close a business day (refused while a finding is open)")
    dc.add_argument("day", type=day_arg)
    dc.add_argument(
        "--ack",
        action="append",
        default=[],
        metavar="FINDING=comment",
        help="acknowledge a finding with a comment (repeatable)",
    )
    dc.set_defaults(func=cmd_day_close)
    dy.add_parser("status", help="open days and what blocks each").set_defaults(func=cmd_day_status)

    od = sub.add_parser("orders", help="payment orders (pain.001)").add_subparsers(
        dest="ord_cmd", required=True
    )
    oc = od.add_parser("create", help="write a closed day's pain.001 files (never twice)")
    oc.add_argument("--day", type=day_arg, required=True)
    oc.set_defaults(func=cmd_orders_create)
    od.add_parser("list", help="payment orders and their state").set_defaults(func=cmd_orders_list)
    osh = od.add_parser("show", help="write an order's XML file")
    osh.add_argument("id", type=int)
    osh.add_argument("--out", required=True)
    osh.set_defaults(func=cmd_orders_show)
    ose = od.add_parser("sent", help="mark an order as sent to the bank")
    ose.add_argument("id", type=int)
    ose.set_defaults(func=cmd_orders_sent)
