"""``gateway users add|list|disable|reset``: the people of the workspace.

A new person or a reset gets a one-time password (printed alone on the last line), unless
``--password-stdin`` gives one; refusals are ``UserError`` lines printed by
``gateway.cli.main``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gateway.cli_common import engine
from gateway.errors import UserError
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.services.users import NewPassword


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
        engine(settings),
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

    for u in list_users(engine(settings)):
        state = "disabled" if u.disabled else "locked" if u.locked_until else "active"
        if u.must_change_password and not u.disabled:
            state += ", one-time password"
        seen = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        print(f"{u.username:<20} {u.role:<11} {state:<28} last sign-in {seen}  {u.display_name}")
    return 0


def cmd_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.users import set_disabled

    user = set_disabled(engine(settings), args.name, not args.enable)
    print(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")
    return 0


def cmd_users_reset(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.services.users import reset_password

    created = reset_password(engine(settings), args.name, _password_from(args))
    print(f"password of {created.username} reset; their sessions are ended")
    _print_password(created)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gateway users add|list|disable|reset``."""
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
