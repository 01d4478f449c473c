"""``gateway review ...``: the review service for scripts and operators.

Every sub-command acts as ``--as USER`` (a person from the users table, with their role;
default the CLI operator ``cli``, a supervisor) and calls the same service functions as the
pages and the JSON API. Amounts are lei ("1234.50"). ``--json`` prints the service's answer
as JSON; otherwise one line. A command that changes something carries a fresh form token, so
a retried command line (same ``--token``) never acts twice.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import Engine, select

from gateway.cli_common import engine as _engine
from gateway.errors import NotFound, UserError
from gateway.services.people import CLI_ACTOR, Actor, Role
from gateway.settings import Settings
from reconciliation.money import format_amount, parse_amount


def actor_for(engine: Engine, username: str | None) -> Actor:
    """The person named by ``--as`` with their role from the users table."""
    if not username or username == CLI_ACTOR.username:
        return CLI_ACTOR
    from gateway.db import reading
    from schemas.tables import users

    with reading(engine) as conn:
        role = conn.execute(select(users.c.role).where(users.c.username == username)).scalar()
    if role is None:
        raise NotFound(f"no user {username!r} (gateway users add)")
    return Actor(username, Role(role))


def _pair(text: str, what: str) -> tuple[str, int, str | None]:
    """KEY=AMOUNT[:SERVICE] -> (key, bani, service)."""
    key, sep, rest = text.partition("=")
    if not sep or not key:
        raise UserError(f"{what} must look like KEY=AMOUNT, got {text!r}")
    amount, _, service = rest.partition(":")
    return key.strip(), parse_amount(amount.strip()), service.strip() or None


def _print(result: object, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    elif hasattr(result, "message"):
        print(result.message)
    else:
        print(result)


def _act(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services import review

    engine = _engine(settings)
    actor = actor_for(engine, args.as_user)
    # keyword arguments of the calls below (item_kw and money_kw add an int and a config)
    common: dict[str, Any] = {"form_token": args.token or uuid.uuid4().hex}
    item_kw = dict(common, expected_version=args.version)
    config = review.ReviewConfig.from_settings(settings)
    money_kw = dict(item_kw, config=config)
    cmd = args.review_cmd
    if cmd == "assign":
        services = [
            review.ServicePart(c, a) for c, a, _ in (_pair(s, "--service") for s in args.service)
        ]
        res = review.assign(
            engine,
            actor,
            args.item,
            args.account,
            invoices=args.invoice,
            services=services,
            note=args.note,
            **money_kw,
        )
    elif cmd == "split":
        shares = [
            review.SharePart(acc, amt, svc)
            for acc, amt, svc in (_pair(s, "--share") for s in args.share)
        ]
        res = review.split(engine, actor, args.item, shares, note=args.note, **money_kw)
    elif cmd == "return":
        res = review.return_to_payer(
            engine, actor, args.item, iban=args.iban, name=args.name, reason=args.reason, **money_kw
        )
    elif cmd == "not-utility":
        res = review.not_utility(engine, actor, args.item, reason=args.reason, **money_kw)
    elif cmd == "duplicate":
        res = review.mark_duplicate(
            engine,
            actor,
            args.item,
            of_payment_id=args.of,
            outcome=args.outcome,
            iban=args.iban,
            name=args.name,
            reason=args.reason,
            **money_kw,
        )
    elif cmd == "undo":
        res = review.undo(engine, actor, args.item, reason=args.reason, **money_kw)
    elif cmd == "claim":
        res = review.claim(engine, actor, args.item, take_over=args.take_over, **item_kw)
    elif cmd == "release":
        res = review.release(engine, actor, args.item, **item_kw)
    elif cmd == "comment":
        res = review.comment(engine, actor, args.item, args.text, **common)
    elif cmd == "unmatch":
        res = review.unmatch(engine, actor, args.payment, reason=args.reason, **common)
    elif cmd == "approve":
        res = review.approve(engine, actor, args.request, note=args.note, config=config, **common)
    elif cmd == "reject":
        res = review.reject(engine, actor, args.request, note=args.note, **common)
    else:  # pragma: no cover - argparse only routes the commands above here
        raise UserError(f"unknown review command {cmd}")
    _print(res, args.json)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.review.reads import list_items

    items = list_items(
        _engine(settings),
        state=args.state,
        reason=args.reason,
        after_id=args.after,
        limit=args.limit,
    )
    if args.json:
        _print(items, True)
        return 0
    for it in items:
        best = it.candidates[0].account_no if it.candidates else "-"
        who = it.claimed_by or it.resolved_by or ""
        print(
            f"{it.id:>7}  v{it.version:<3} {format_amount(it.amount):>12}  {it.state:<18} "
            f"{it.reason:<22} best={best:<9} {who}"
        )
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.review.reads import show

    detail = show(_engine(settings), args.item)
    if args.json:
        _print(detail, True)
        return 0
    it, pay = detail.item, detail.payment
    print(f"item {it.id} (version {it.version}): {it.state}, reason {it.reason}")
    print(
        f"payment {it.payment_id}: {format_amount(it.amount)} MDL on {pay.business_day} "
        f"via {pay.channel} ({pay.source}), status {it.payment_status}"
    )
    print(f"payer: {pay.debtor_name or '-'} {pay.debtor_iban or ''}")
    print(f"text:  {pay.remittance or '-'}")
    for c in it.candidates:
        print(f"  candidate {c.account_no} score {c.score:.2f}: {c.reason}")
    for h in detail.history:
        print(
            f"  {h.at:%Y-%m-%d %H:%M} {h.actor:<10} {h.action:<17} {h.from_state} -> {h.to_state}"
        )
    return 0


def _approvals(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.review import list_approvals

    rows = list_approvals(_engine(settings), status=args.status)
    if args.json:
        _print(rows, True)
        return 0
    for ap in rows:
        print(
            f"{ap.id:>6}  {ap.requested_at:%Y-%m-%d %H:%M} {ap.requested_by:<10} "
            f"{format_amount(ap.amount):>12}  {ap.summary}"
        )
    return 0


def _bulk(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.review import bulk

    engine = _engine(settings)
    actor = actor_for(engine, args.as_user)
    flt = bulk.BulkFilter(
        reason=args.reason,
        channel=args.channel,
        source=args.source,
        day_from=args.day_from,
        day_to=args.day_to,
        amount_min=parse_amount(args.amount_min) if args.amount_min else None,
        amount_max=parse_amount(args.amount_max) if args.amount_max else None,
    )
    rule = bulk.BulkRule(args.rule)
    if args.request:
        _print(
            bulk.request(
                engine, actor, flt, rule, note=args.note, form_token=args.token or uuid.uuid4().hex
            ),
            args.json,
        )
        return 0
    prev = bulk.preview(engine, actor, flt, rule, show=args.show)
    if args.json:
        _print(prev, True)
        return 0
    print(
        f"rule {prev.rule}: {prev.selected} open items selected, {prev.eligible} eligible, "
        f"{format_amount(prev.total)} MDL"
    )
    for why, n in sorted(prev.skipped.items()):
        print(f"  left alone: {n} ({why})")
    for pr in prev.proposals:
        print(f"  item {pr.item_id}: {format_amount(pr.amount)} -> {pr.account_no}  {pr.why}")
    print("nothing changed; --request asks a supervisor to apply it")
    return 0


def _rules(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.review.learn import list_rules, set_rule_enabled

    engine = _engine(settings)
    if args.disable or args.enable:
        rule_id = args.disable or args.enable
        actor = actor_for(engine, args.as_user)
        view = set_rule_enabled(engine, actor, rule_id, enabled=bool(args.enable), reason=args.note)
        rows = [view]
    else:
        rows = list_rules(engine, status=args.status, kind=args.kind)
    if args.json:
        _print(rows, True)
        return 0
    for r in rows:
        why = f"  ({r.status_reason})" if r.status_reason else ""
        print(
            f"{r.id:>6}  {r.kind:<7} {r.status:<8} {r.account_no:<9} decisions={r.decisions:<3} "
            f"placed={r.placed:<4} {r.payer_key[:60]}{why}"
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``review`` and its sub-commands to the ``gateway`` parser."""
    rv = sub.add_parser("review", help="the review queue: list, show and resolve items")
    rs = rv.add_subparsers(dest="review_cmd", required=True, metavar="ACTION")

    def cmd(
        name: str, helptext: str, func: Callable = _act, item: bool = True
    ) -> argparse.ArgumentParser:
        p = rs.add_parser(name, help=helptext)
        if item:
            p.add_argument("item", type=int, help="review item id")
        p.add_argument("--as", dest="as_user", default=None, help="act as this user")
        p.add_argument("--json", action="store_true", help="print the answer as JSON")
        p.set_defaults(func=func)
        if func is _act:
            p.add_argument("--token", default=None, help="idempotency token (retry-safe)")
            p.add_argument("--version", type=int, default=None, help="expected item version")
        return p

    ls = cmd("list", "list items (oldest first)", _list, item=False)
    ls.add_argument("--state", default="open", help="open, awaiting_approval, ... or any")
    ls.add_argument("--reason", default=None)
    ls.add_argument("--after", type=int, default=0, help="page after this item id")
    ls.add_argument("--limit", type=int, default=50)
    cmd("show", "one item with its payment, candidates and history", _show)
    a = cmd("assign", "place the whole payment on one account")
    a.add_argument("account")
    a.add_argument("--invoice", action="append", default=[], help="only these invoices")
    a.add_argument("--service", action="append", default=[], help="SERVICE=AMOUNT")
    a.add_argument("--note", default="")
    s = cmd("split", "split across accounts/services (must add up)")
    s.add_argument("--share", action="append", required=True, help="ACCOUNT=AMOUNT[:SERVICE]")
    s.add_argument("--note", default="")
    r = cmd("return", "return to the payer (refund order for finance)")
    r.add_argument("--iban", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--reason", required=True)
    cmd("not-utility", "not a utility payment").add_argument("--reason", required=True)
    d = cmd("duplicate", "a repeat of another payment: return or credit")
    d.add_argument("--of", type=int, required=True, help="the original payment id")
    d.add_argument("--outcome", choices=["return", "credit"], required=True)
    d.add_argument("--iban", default="")
    d.add_argument("--name", default="")
    d.add_argument("--reason", default="")
    cmd("undo", "take a resolution back (waits for a supervisor)").add_argument(
        "--reason", required=True
    )
    cmd("claim", "work on an item").add_argument("--take-over", action="store_true")
    cmd("release", "give an item back to the queue")
    cmd("comment", "add a note to the history").add_argument("text")
    u = cmd("unmatch", "take an automatic allocation back (waits for a supervisor)", item=False)
    u.add_argument("payment", type=int, help="payment id")
    u.add_argument("--reason", required=True)
    for name in ("approve", "reject"):
        ap = cmd(name, f"{name} a waiting request (four-eyes)", item=False)
        ap.add_argument("request", type=int, help="approval request id")
        ap.add_argument("--note", default="")
    b = cmd("bulk", "preview (default) or --request a bulk acceptance", _bulk, item=False)
    b.add_argument(
        "--rule",
        choices=["unique_correction_exact", "best_exact", "best"],
        default="unique_correction_exact",
    )
    for flag in ("--reason", "--channel", "--source", "--amount-min", "--amount-max"):
        b.add_argument(flag, default=None)
    b.add_argument("--day-from", type=date.fromisoformat, default=None)
    b.add_argument("--day-to", type=date.fromisoformat, default=None)
    b.add_argument("--show", type=int, default=20, help="proposals to print")
    b.add_argument("--request", action="store_true", help="ask for approval to apply it")
    b.add_argument("--note", default="")
    b.add_argument("--token", default=None)
    ru = cmd("rules", "learned rules (or --disable/--enable ID)", _rules, item=False)
    ru.add_argument("--status", default=None, help="active, disabled or retired")
    ru.add_argument("--kind", default="place", choices=["place", "decline"])
    ru.add_argument("--disable", type=int, default=None, metavar="ID")
    ru.add_argument("--enable", type=int, default=None, metavar="ID")
    ru.add_argument("--note", default="")
    cmd("approvals", "requests waiting for approval", _approvals, item=False).add_argument(
        "--status", default="pending"
    )
