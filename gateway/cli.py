"""The ``gateway`` command: the CLI half of the composition root.

Each sub-command parses its arguments, builds ``Settings`` from the environment once, and
calls the same service functions that the HTTP handlers and background jobs call. Errors are
one line on stderr and a non-zero exit code; no traceback reaches the user (set
GATEWAY_DEBUG=1 to see one).

The commands live by group, each module with its handlers and its ``register``:
``cli_data`` (db, invoices, parse, ingest, pull), ``cli_fixtures``, ``cli_operators``
(agents, quarantine), ``cli_users``, ``cli_finance`` (export, report, day, orders) and
``cli_review``; the long-running ones (serve, demo, scheduler) are here. ``build_parser``
adds them in the order ``gateway --help`` lists them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from gateway import cli_data, cli_finance, cli_fixtures, cli_users
from gateway.cli_common import batch_priority, tty
from gateway.errors import UserError
from gateway.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
#: commands that run until stopped: they log at GATEWAY_LOG_LEVEL (INFO) wherever they run
LONG_RUNNING = ("serve", "scheduler", "demo")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.serve import serve

    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    batch_priority(settings)
    from connectors.schedule import run_scheduler

    return run_scheduler(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import demo

    return demo(settings, host=args.host, port=args.port, serve=not args.no_serve)


def _register_running(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway serve``, ``demo`` and ``scheduler``: the commands that run until stopped."""
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


def build_parser() -> argparse.ArgumentParser:
    from gateway.cli_operators import register_agents, register_quarantine
    from gateway.cli_review import register as register_review

    p = argparse.ArgumentParser(prog="gateway", description="Plata payment gateway")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_data.register_db(sub)
    cli_fixtures.register(sub)
    cli_data.register_invoices(sub)
    register_agents(sub)
    cli_users.register(sub)
    cli_data.register_files(sub)
    register_quarantine(sub)
    cli_data.register_pull(sub)
    cli_finance.register(sub)
    _register_running(sub)
    register_review(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except (UserError, ValueError) as exc:  # a mistyped variable: one line, no traceback
        print(f"error: settings: {exc}", file=sys.stderr)
        return 2
    if "GATEWAY_LOG_LEVEL" not in os.environ and args.command not in LONG_RUNNING:
        # One-shot commands print their own summary and errors. On a terminal that is all the
        # user reads (a log line would only repeat it); elsewhere warnings stay, as JSON lines.
        quiet = tty() and not os.environ.get("GATEWAY_DEBUG")
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
