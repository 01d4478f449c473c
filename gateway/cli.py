"""The ``gateway`` command: the CLI half of the composition root.

Each sub-command parses its arguments, builds ``Settings`` from the environment once, and
calls the same service functions that the HTTP handlers and background jobs call. Errors are
one line on stderr and a non-zero exit code; no traceback reaches the user (set
GATEWAY_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.errors import UserError
from gateway.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from connectors.formats.base import ReadOptions
    from gateway.services.users import NewPassword

Handler = Callable[[argparse.Namespace, Settings], int]
#: commands that run until stopped: they log at GATEWAY_LOG_LEVEL (INFO) wherever they run
LONG_RUNNING = ("serve", "scheduler", "demo")


def _engine(settings: Settings) -> Engine:
    from gateway.db import make_engine

    return make_engine(settings.database_url)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.migrate import upgrade

    upgrade(_engine(settings))
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_fixtures_generate(args: argparse.Namespace, settings: Settings) -> int:
    from fixtures.generate import generate

    summary = generate(
        Path(args.out), scale=args.scale, seed=args.seed, day=args.day, progress=_tty(),
        mix=args.mix, payments=args.payments,
    )  # fmt: skip
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_fixtures_score(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.score import print_score, score

    report = score(_engine(settings), Path(args.dir))
    print_score(report)
    return 0 if report.ok else 1


def cmd_fixtures_replay(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.learning_replay import print_replay, replay

    figures, report = replay(
        _engine(settings),
        settings,
        Path(args.out),
        scale=args.scale,
        seed=args.seed,
        months=args.months,
    )
    print_replay(figures, report)
    return 0 if not report.learned_wrong and not report.misallocated else 1


def cmd_invoices_import(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.config import load_file
    from gateway.services.invoices import import_register

    policy = load_file(settings).allocation
    summary = import_register(
        _engine(settings),
        Path(args.dir),
        progress=_tty(),
        policy=policy,
        timezone=settings.timezone,
    )
    print(summary.describe())
    return 0


def cmd_agents_add(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.agents import add_agent

    created = add_agent(_engine(settings), args.name, ip_allow=args.ip_allow, sign=args.sign)
    print(f"agent {created.name} created (key id {created.key_id})")
    if created.signing_secret:
        print(f"signing secret: {created.signing_secret}")
    print(created.key)  # alone on the last line: scripts take it with `tail -n1`
    return 0


def _password_from(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise UserError("--password-stdin: no password on standard input")
    return password


def _print_password(created: NewPassword) -> None:
    if created.one_time:
        print(f"one-time password for {created.username} (to change at first sign-in):")
        print(created.password)  # alone on the last line: scripts take it with `tail -n1`


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.people import Role
    from gateway.services.users import add_user

    created = add_user(
        _engine(settings),
        args.name,
        Role(args.role),
        display_name=args.display_name,
        password=_password_from(args),
    )
    print(f"user {created.username} created, role {created.role}")
    _print_password(created)
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.users import list_users

    for u in list_users(_engine(settings)):
        state = "disabled" if u.disabled else "locked" if u.locked_until else "active"
        if u.must_change_password and not u.disabled:
            state += ", one-time password"
        seen = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        print(f"{u.username:<20} {u.role:<11} {state:<28} last sign-in {seen}  {u.display_name}")
    return 0


def cmd_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.users import set_disabled

    user = set_disabled(_engine(settings), args.name, not args.enable)
    print(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")
    return 0


def cmd_users_reset(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.users import reset_password

    created = reset_password(_engine(settings), args.name, _password_from(args))
    print(f"password of {created.username} reset; their sessions are ended")
    _print_password(created)
    return 0


def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.formats.base import ReadOptions
    from connectors.parse_cli import run

    options = ReadOptions(
        args.strict_balances, args.encoding, args.intraday_booked, timezone=settings.timezone
    )
    return run(args.file, args.format, options=options, statements=args.statements)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.progress import bar
    from gateway.services.ingest import ingest_path

    options = _connector_read_options(settings, args.source)
    with bar(_tty(), unit="records") as shown:  # a large file's records, on a terminal only
        result = ingest_path(
            _engine(settings),
            settings,
            Path(args.file),
            source=args.source,
            fmt=args.format,
            options=options,
            progress=shown,
        )
    print(result.describe())
    return result.exit_code


def _connector_read_options(settings: Settings, source: str | None) -> ReadOptions:
    """A file ingested as a configured connector's is read as that connector reads it."""
    from connectors.config import load_file
    from connectors.formats.base import ReadOptions

    for c in load_file(settings).connectors if source else ():
        if c.name == source:
            return c.read_options()
    return ReadOptions()


def cmd_pull(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.pull import pull_command

    if not args.name and not args.all:
        raise UserError("name a connector or pass --all")
    return pull_command(_engine(settings), settings, None if args.all else args.name, _tty())


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.export import export

    n = export(_engine(settings), args.kind, args.day, Path(args.out), args.format)
    print(f"{n} {args.kind} rows for {args.day} written to {args.out}")
    return 0


def cmd_report_daily(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.collectors import load_collectors
    from gateway.services.day_close import report_bytes

    data = report_bytes(
        _engine(settings),
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
            _engine(settings),
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

    days = day_status(_engine(settings), load_collectors(settings), timezone=settings.timezone)
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

    result = create_orders(_engine(settings), args.day, CLI_ACTOR, settings)
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

    orders = list_orders(_engine(settings))
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

    summary, data = order_file(_engine(settings), args.id)
    Path(args.out).write_bytes(data)
    print(f"{summary.filename} ({summary.state}) written to {args.out}")
    return 0


def cmd_orders_sent(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.orders import mark_sent
    from gateway.services.people import CLI_ACTOR

    mark_sent(_engine(settings), args.id, CLI_ACTOR)
    print(f"order {args.id} marked sent")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.serve import serve

    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.schedule import run_scheduler

    return run_scheduler(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import demo

    return demo(settings, host=args.host, port=args.port, serve=not args.no_serve)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="Plata payment gateway")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    fx = sub.add_parser("fixtures", help="synthetic city").add_subparsers(
        dest="fx_cmd", required=True
    )
    g = fx.add_parser("generate", help="write a synthetic city and a day's payment files")
    g.add_argument("--out", required=True)
    g.add_argument("--scale", choices=["small", "seed"], default="small")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--day", type=_day, default=None, help="business day (default: 2026-11-20)")
    g.add_argument(
        "--mix", choices=["clear", "messy"], default="clear",
        help="clear: the usual day of six channels; messy: one statement of hard transfer "
        "texts (see fixtures/messy.py)",
    )  # fmt: skip
    g.add_argument("--payments", type=int, default=None, help="payments in the day")
    g.set_defaults(func=cmd_fixtures_generate)
    s = fx.add_parser("score", help="compare the database with DIR/truth.csv")
    s.add_argument("dir")
    s.set_defaults(func=cmd_fixtures_score)
    r = fx.add_parser(
        "replay", help="months of habit days: resolve the queue from truth, measure learning"
    )
    r.add_argument("--out", required=True)
    r.add_argument("--scale", choices=["small", "seed"], default="small")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--months", type=int, default=3)
    r.set_defaults(func=cmd_fixtures_replay)

    inv = sub.add_parser("invoices", help="invoice register").add_subparsers(
        dest="inv_cmd", required=True
    )
    i = inv.add_parser("import", help="import a register folder, all or nothing")
    i.add_argument("dir")
    i.set_defaults(func=cmd_invoices_import)

    ag = sub.add_parser("agents", help="bank API agents").add_subparsers(
        dest="ag_cmd", required=True
    )
    a = ag.add_parser("add", help="create an agent; prints its key once, on the last line")
    a.add_argument("name")
    a.add_argument("--ip-allow", default="", help="comma-separated networks, e.g. 10.0.0.0/8")
    a.add_argument("--sign", action="store_true", help="require HMAC-signed requests")
    a.set_defaults(func=cmd_agents_add)
    from gateway.cli_operators import register_agents, register_quarantine

    register_agents(ag)

    us = sub.add_parser("users", help="people of the workspace").add_subparsers(
        dest="us_cmd", required=True
    )
    u = us.add_parser("add", help="create a person; prints a one-time password")
    u.add_argument("name")
    u.add_argument(
        "--role", required=True, choices=["viewer", "accountant", "supervisor", "finance"]
    )
    u.add_argument("--display-name", default=None)
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.set_defaults(func=cmd_users_add)
    us.add_parser("list", help="everyone, with role and state").set_defaults(func=cmd_users_list)
    u = us.add_parser("disable", help="disable a person (ends their sessions)")
    u.add_argument("name")
    u.add_argument("--enable", action="store_true", help="enable again instead")
    u.set_defaults(func=cmd_users_disable)
    u = us.add_parser("reset", help="new one-time password, lock-out lifted, sessions ended")
    u.add_argument("name")
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.set_defaults(func=cmd_users_reset)

    pa = sub.add_parser("parse", help="print a payment file's records as JSON lines")
    pa.add_argument("file")
    pa.add_argument("--format", default="auto")
    pa.add_argument("--strict-balances", action="store_true", help="refuse disagreeing balances")
    pa.add_argument("--encoding", default=None, help="a text file's encoding, e.g. cp866")
    pa.add_argument("--intraday-booked", action="store_true", help="camt.052 entries as money")
    pa.add_argument("--statements", action="store_true", help="print statement balance lines")
    pa.set_defaults(func=cmd_parse)

    ing = sub.add_parser("ingest", help="store, parse, match and allocate one file")
    ing.add_argument("file")
    ing.add_argument("--source", default=None, help="connector name (default: the format)")
    ing.add_argument(
        "--format", default="auto", help="auto (detect) or a format name, as for `gateway parse`"
    )
    ing.set_defaults(func=cmd_ingest)

    register_quarantine(sub)

    pu = sub.add_parser("pull", help="run connectors now")
    pu.add_argument("name", nargs="?")
    pu.add_argument("--all", action="store_true")
    pu.set_defaults(func=cmd_pull)

    ex = sub.add_parser("export", help="CSV of a day's payments or allocations")
    ex.add_argument("kind", choices=["payments", "allocations"])
    ex.add_argument("--day", type=_day, required=True)
    ex.add_argument("--out", required=True)
    ex.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ex.set_defaults(func=cmd_export)

    rep = sub.add_parser("report", help="finance reports").add_subparsers(
        dest="rep_cmd", required=True
    )
    rd = rep.add_parser("daily", help="the daily reconciliation of a business day")
    rd.add_argument("--day", type=_day, required=True)
    rd.add_argument("--format", choices=["xlsx", "csv", "json"], default="xlsx")
    rd.add_argument("--out", required=True)
    rd.set_defaults(func=cmd_report_daily)

    dy = sub.add_parser("day", help="business days").add_subparsers(dest="day_cmd", required=True)
    dc = dy.add_parser("close", help="close a business day (refused while a finding is open)")
    dc.add_argument("day", type=_day)
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
    oc.add_argument("--day", type=_day, required=True)
    oc.set_defaults(func=cmd_orders_create)
    od.add_parser("list", help="payment orders and their state").set_defaults(func=cmd_orders_list)
    osh = od.add_parser("show", help="write an order's XML file")
    osh.add_argument("id", type=int)
    osh.add_argument("--out", required=True)
    osh.set_defaults(func=cmd_orders_show)
    ose = od.add_parser("sent", help="mark an order as sent to the bank")
    ose.add_argument("id", type=int)
    ose.set_defaults(func=cmd_orders_sent)

    for name, func, helptext in (
        ("serve", cmd_serve, "run the HTTP server (API, pages) and the scheduler"),
        ("demo", cmd_demo, "generate a small city, import it, ingest a day, serve"),
    ):
        sv = sub.add_parser(name, help=helptext)
        sv.add_argument("--host", default="127.0.0.1")
        sv.add_argument("--port", type=int, default=8000)
        if name == "serve":
            sv.add_argument("--workers", type=int, default=1)
        else:
            sv.add_argument("--no-serve", action="store_true", help="prepare only")
        sv.set_defaults(func=func)
    sub.add_parser("scheduler", help="run only the connector scheduler").set_defaults(
        func=cmd_scheduler
    )
    from gateway.cli_review import register as register_review

    register_review(sub)
    return p


def _tty() -> bool:
    return sys.stderr.isatty()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if "GATEWAY_LOG_LEVEL" not in os.environ and args.command not in LONG_RUNNING:
        # One-shot commands print their own summary and errors. On a terminal that is all the
        # user reads (a log line would only repeat it); elsewhere warnings stay, as JSON lines.
        quiet = _tty() and not os.environ.get("GATEWAY_DEBUG")
        settings = settings.with_(log_level="CRITICAL" if quiet else "WARNING")
    from gateway.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    try:
        return args.func(args, settings)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, OSError) as exc:
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        problem = _database_problem(exc, settings)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        print(
            f"error: internal error ({type(exc).__name__}); rerun with GATEWAY_DEBUG=1",
            file=sys.stderr,
        )
        return 1


def _database_problem(exc: Exception, settings: Settings) -> str | None:
    """For a database error: the schema or connection problem behind it, if that is it."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    from gateway.migrate import schema_problem

    try:
        return schema_problem(settings.database_url)
    except Exception:  # the diagnosis must not hide the original one-line error
        return None


if __name__ == "__main__":
    sys.exit(main())
