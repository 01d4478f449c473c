"""``gateway db|invoices|parse|ingest|pull``: the data that comes in (the schema, the invoice
register, payment files, connectors).

Each command calls one service and prints its summary; a refusal is a ``UserError`` that
``gateway.cli.main`` prints as its one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli_common import batch_priority, engine, tty
from gateway.errors import UserError
from gateway.settings import Settings

if TYPE_CHECKING:
    from connectors.formats.base import ReadOptions


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.migrate import upgrade

    upgrade(engine(settings))
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_invoices_import(args: argparse.Namespace, settings: Settings) -> int:
    batch_priority(settings)
    from connectors.config import load_file
    from gateway.services.invoices import import_register

    policy = load_file(settings).allocation
    summary = import_register(
        engine(settings),
        Path(args.dir),
        progress=tty(),
        policy=policy,
        timezone=settings.timezone,
    )
    print(summary.describe())
    return 0


def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.formats.base import ReadOptions
    from connectors.parse_cli import run

    options = ReadOptions(
        args.strict_balances, args.encoding, args.intraday_booked, timezone=settings.timezone
    )
    return run(args.file, args.format, options=options, statements=args.statements)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    batch_priority(settings)
    from gateway.progress import bar
    from gateway.services.ingest import ingest_path

    options = _connector_read_options(settings, args.source)
    with bar(tty(), unit="records") as shown:  # a large file's records, on a terminal only
        result = ingest_path(
            engine(settings),
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
    batch_priority(settings)
    from connectors.pull import pull_command

    if not args.name and not args.all:
        raise UserError("name a connector or pass --all")
    return pull_command(engine(settings), settings, None if args.all else args.name, tty())


def register_db(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway db upgrade``."""
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_cmd", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)


def register_invoices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway invoices import``."""
    inv = sub.add_parser("invoices", help="invoice register").add_subparsers(
        dest="inv_cmd", required=True
    )
    i = inv.add_parser("import", help="import a register folder, all or nothing")
    i.add_argument("dir")
    i.set_defaults(func=cmd_invoices_import)


def register_files(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway parse`` and ``gateway ingest``: one payment file."""
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


def register_pull(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway pull``: the connectors, now."""
    pu = sub.add_parser("pull", help="run connectors now")
    pu.add_argument("name", nargs="?")
    pu.add_argument("--all", action="store_true")
    pu.set_defaults(func=cmd_pull)
