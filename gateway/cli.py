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

from gateway.errors import UserError
from gateway.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
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
        Path(args.out), scale=args.scale, seed=args.seed, day=args.day, progress=_tty()
    )
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_fixtures_score(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.score import print_score, score

    report = score(_engine(settings), Path(args.dir))
    print_score(report)
    return 0 if report.ok else 1


def cmd_invoices_import(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.invoices import import_register

    summary = import_register(_engine(settings), Path(args.dir), progress=_tty())
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


def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.formats.base import ReadOptions
    from connectors.parse_cli import run

    options = ReadOptions(args.strict_balances, args.encoding, args.intraday_booked)
    return run(args.file, args.format, options=options, statements=args.statements)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.ingest import ingest_path

    result = ingest_path(_engine(settings), settings, Path(args.file), source=args.source)
    print(result.describe())
    return result.exit_code


def cmd_pull(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.pull import pull_command

    if not args.name and not args.all:
        raise UserError("name a connector or pass --all")
    return pull_command(_engine(settings), settings, None if args.all else args.name, _tty())


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.export import export

    n = export(_engine(settings), args.kind, args.day, Path(args.out))
    print(f"{n} {args.kind} rows for {args.day} written to {args.out}")
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
    g.set_defaults(func=cmd_fixtures_generate)
    s = fx.add_parser("score", help="compare the database with DIR/truth.csv")
    s.add_argument("dir")
    s.set_defaults(func=cmd_fixtures_score)

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
    ing.set_defaults(func=cmd_ingest)

    pu = sub.add_parser("pull", help="run connectors now")
    pu.add_argument("name", nargs="?")
    pu.add_argument("--all", action="store_true")
    pu.set_defaults(func=cmd_pull)

    ex = sub.add_parser("export", help="CSV of a day's payments or allocations")
    ex.add_argument("kind", choices=["payments", "allocations"])
    ex.add_argument("--day", type=_day, required=True)
    ex.add_argument("--out", required=True)
    ex.set_defaults(func=cmd_export)

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
    if "GATEWAY_LOG_LEVEL" not in os.environ and args.command not in ("serve", "scheduler", "demo"):
        # one-shot commands print their own summary; info lines would only repeat it
        settings = settings.with_(log_level="WARNING")
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
        print(
            f"error: internal error ({type(exc).__name__}); rerun with GATEWAY_DEBUG=1",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
