"""``gateway agents add|list|revoke|rotate`` and ``gateway quarantine list|retry``: operators'.

Each command calls one service (``gateway.services.agents``, ``gateway.services.agent_admin``,
``gateway.services.quarantine``) and prints plain columns or one line per file; a refusal
is a ``UserError`` that ``gateway.cli.main`` prints as its one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.cli_common import engine as _engine
from gateway.errors import UserError
from gateway.settings import Settings


def cmd_agents_add(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.agents import add_agent

    created = add_agent(_engine(settings), args.name, ip_allow=args.ip_allow, sign=args.sign)
    print(f"agent {created.name} created (key id {created.key_id})")
    if created.signing_secret:
        print(f"signing secret: {created.signing_secret}")
    print(created.key)  # alone on the last line: scripts take it with `tail -n1`
    return 0


def cmd_agents_list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.agent_admin import list_agents

    rows = [
        (
            a.name,
            a.status,
            a.key_id,
            _when(a.created_at),
            _when(a.revoked_at) if a.revoked_at else "",
            "yes" if a.signs else "no",
            a.ip_allow or "any",
            str(a.rate_per_minute),
            ", ".join(f"{k.key_id} until {_when(k.valid_until)}" for k in a.previous),
        )
        for a in list_agents(_engine(settings))
    ]
    if not rows:
        print("no agents (gateway agents add NAME)")
        return 0
    header = ("NAME", "STATUS", "KEY ID", "CREATED", "REVOKED", "SIGNS", "IP ALLOW", "RATE/MIN",
              "PREVIOUS KEY")  # fmt: skip
    _print_table(header, rows)
    return 0


def cmd_agents_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.agent_admin import revoke_agent

    if revoke_agent(_engine(settings), args.name):
        print(f"agent {args.name} revoked: its keys are refused (running servers: within 30 s)")
    else:
        print(f"agent {args.name} was already revoked; nothing changed")
    return 0


def cmd_agents_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.agent_admin import rotate_agent

    done = rotate_agent(_engine(settings), args.name, grace=timedelta(hours=args.grace_hours))
    old = (
        f"valid until {_when(done.previous_valid_until)}"
        if done.previous_valid_until
        else "refused from now on"
    )
    print(f"agent {done.name}: new key id {done.key_id}; previous key {done.previous_key_id} {old}")
    print(done.key)  # alone on the last line: scripts take it with `tail -n1`
    return 0


def cmd_quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.quarantine import list_held

    held = list_held(_engine(settings))
    if not held:
        print("no quarantined or failed files")
        return 0
    header = ("SHA256", "RECEIVED", "STATE", "SOURCE", "FILE", "REASON")
    rows = [
        (h.sha256[:12], _when(h.received_at), h.state, h.source, h.filename, h.reason) for h in held
    ]
    _print_table(header, rows)
    return 0


def cmd_quarantine_retry(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.quarantine import retry

    if bool(args.sha) == bool(args.all):
        raise UserError("name one file by its sha256 (prefix), or pass --all")
    results = retry(_engine(settings), settings, None if args.all else args.sha, fmt=args.format)
    if not results:
        print("no quarantined or failed files to retry")
    for result in results:
        print(result.describe())
    return max((r.exit_code for r in results), default=0)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Plain columns, two spaces apart (greppable; no box drawing to strip in scripts)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def register_agents(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway agents add|list|revoke|rotate``."""
    ag = sub.add_parser("agents", help="bank API agents").add_subparsers(
        dest="ag_cmd", required=True
    )
    a = ag.add_parser("add", help="create an agent; prints its key once, on the last line")
    a.add_argument("name")
    a.add_argument("--ip-allow", default="", help="comma-separated networks, e.g. 10.0.0.0/8")
    a.add_argument("--sign", action="store_true", help="require HMAC-signed requests")
    a.set_defaults(func=cmd_agents_add)
    ag.add_parser("list", help="every agent, its status and keys (never a secret)").set_defaults(
        func=cmd_agents_list
    )
    r = ag.add_parser("revoke", help="stop every key of an agent")
    r.add_argument("name")
    r.set_defaults(func=cmd_agents_revoke)
    ro = ag.add_parser("rotate", help="a new key, printed alone on the last line")
    ro.add_argument("name")
    ro.add_argument(
        "--grace-hours",
        type=float,
        default=24.0,
        help="how long the old key keeps working (default 24; 0 = refused at once)",
    )
    ro.set_defaults(func=cmd_agents_rotate)


def register_quarantine(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway quarantine list|retry``."""
    qu = sub.add_parser("quarantine", help="files not applied").add_subparsers(
        dest="q_cmd", required=True
    )
    qu.add_parser("list", help="quarantined and failed files, oldest first").set_defaults(
        func=cmd_quarantine_list
    )
    qr = qu.add_parser("retry", help="ingest the stored bytes again (after a parser fix)")
    qr.add_argument("sha", nargs="?", help="the file's sha256, or its first 8+ hex digits")
    qr.add_argument("--all", action="store_true", help="every quarantined or failed file")
    qr.add_argument("--format", default="auto", help="auto (detect) or a format name")
    qr.set_defaults(func=cmd_quarantine_retry)
