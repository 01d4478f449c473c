"""The people who use the workspace: accounts, passwords, log-in with lock-out.

Decisions:
- Passwords are hashed with argon2id (argon2-cffi's defaults, re-hashed on log-in when the
  parameters change); the database never holds a password or a reversible form of one.
- ``gateway users add`` and ``users reset`` print a one-time password (or take one from
  stdin); a one-time password must be changed at the next log-in (``password_changed_at``
  is NULL until then).
- A wrong password counts; after ``login_max_failures`` in a row the account is locked for
  ``login_lock_minutes`` (the count restarts after the lock). An unknown name, a wrong
  password and a disabled account get the same answer, so the form does not reveal who
  exists; a locked account says so (its owner needs to know why the right password fails).
- Disabling a person or resetting their password ends their sessions at once.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update

from gateway.db import AnyRow, as_utc, reading
from gateway.errors import Conflict, NotFound, UserError
from gateway.services.people import Actor, Role
from schemas.tables import users, web_sessions

MIN_PASSWORD = 10
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()


class LoginRefused(UserError):
    """Wrong name or password, disabled, or locked: the message is safe to show."""


class UserInfo(msgspec.Struct, frozen=True):
    id: int
    username: str
    role: Role
    display_name: str
    disabled: bool
    locked_until: datetime | None
    must_change_password: bool
    last_login_at: datetime | None

    @property
    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role)


class NewPassword(msgspec.Struct, frozen=True):
    username: str
    role: Role
    password: str  # shown once, never stored
    one_time: bool


def one_time_password() -> str:
    """Four groups of five letters and digits, easy to read aloud, ~100 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def check_password_policy(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if username.lower() in password.lower():
        raise UserError("a password must not contain the user name")


def _info(row: AnyRow) -> UserInfo:
    return UserInfo(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        display_name=row.display_name or row.username,
        disabled=bool(row.disabled),
        locked_until=as_utc(row.locked_until) if row.locked_until else None,
        must_change_password=row.password_changed_at is None,
        last_login_at=as_utc(row.last_login_at) if row.last_login_at else None,
    )


def add_user(
    engine: Engine,
    username: str,
    role: Role,
    *,
    display_name: str | None = None,
    password: str | None = None,
) -> NewPassword:
    """Create a person; without ``password`` a one-time one is generated and returned."""
    username = username.strip().lower()
    if not _NAME.match(username):
        raise UserError("a user name is 2-64 lower-case letters, digits, '.', '_' or '-'")
    one_time = password is None
    password = password if password is not None else one_time_password()
    if not one_time:
        check_password_policy(username, password)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise Conflict(f"user {username} exists")
        conn.execute(
            insert(users).values(
                username=username,
                password_hash=_hasher.hash(password),
                role=Role(role).value,
                display_name=display_name,
                created_at=now,
                password_changed_at=None if one_time else now,
            )
        )
    return NewPassword(username, Role(role), password, one_time)


def list_users(engine: Engine) -> list[UserInfo]:
    with reading(engine) as conn:
        return [_info(r) for r in conn.execute(select(users).order_by(users.c.username))]


def get_user(engine: Engine, username: str) -> UserInfo:
    with reading(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username.lower())).first()
    if row is None:
        raise NotFound(f"no user {username}")
    return _info(row)


def set_disabled(engine: Engine, username: str, disabled: bool) -> UserInfo:
    """Disable (ending every session) or enable again, clearing any lock-out."""
    user = get_user(engine, username)
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(disabled=disabled, failed_logins=0, locked_until=None)
        )
        if disabled:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user.id))
    return get_user(engine, username)


def reset_password(engine: Engine, username: str, password: str | None = None) -> NewPassword:
    """A new password (one-time unless given), the lock-out lifted, every session ended."""
    user = get_user(engine, username)
    one_time = password is None
    password = password if password is not None else one_time_password()
    if not one_time:
        check_password_policy(user.username, password)
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                password_hash=_hasher.hash(password),
                password_changed_at=None if one_time else datetime.now(UTC),
                failed_logins=0,
                locked_until=None,
            )
        )
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user.id))
    return NewPassword(user.username, user.role, password, one_time)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    *,
    max_failures: int = 5,
    lock_minutes: int = 15,
    now: datetime | None = None,
) -> UserInfo:
    """The person, if the password is right and the account usable; else ``LoginRefused``."""
    now = now or datetime.now(UTC)
    refusal = _check(engine, username, password, max_failures, lock_minutes, now)
    if refusal is not None:  # raised after the commit: the failure count must stick
        raise LoginRefused(refusal)
    return get_user(engine, username.strip().lower())


def _check(
    engine: Engine,
    username: str,
    password: str,
    max_failures: int,
    lock_minutes: int,
    now: datetime,
) -> str | None:
    """None when the log-in succeeds (recorded), else the refusal to show."""
    refused = "wrong user name or password"
    with engine.begin() as conn:
        row = conn.execute(
            select(users).where(users.c.username == username.strip().lower())
        ).first()
        if row is None:
            _hasher.hash(password)  # the same time spent as for a known name
            return refused
        locked = as_utc(row.locked_until) if row.locked_until else None
        if locked is not None and locked > now:
            return (
                f"too many wrong passwords: locked until {locked:%H:%M} UTC; "
                "a supervisor can unlock it (gateway users reset)"
            )
        if not _verify(row.password_hash, password):
            failures = row.failed_logins + 1
            values: dict[str, object] = {"failed_logins": failures}
            if failures >= max_failures:
                values = {"failed_logins": 0, "locked_until": now + timedelta(minutes=lock_minutes)}
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
            return refused
        if row.disabled:
            return refused
        values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
    return None


def change_password(engine: Engine, user_id: int, current: str, new: str) -> None:
    """The person's own change: the current password proves it is them."""
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
        if row is None or row.disabled:
            raise NotFound("no such user")
        if not _verify(row.password_hash, current):
            raise UserError("the current password is wrong")
        check_password_policy(row.username, new)
        if new == current:
            raise UserError("the new password must differ from the current one")
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=_hasher.hash(new), password_changed_at=datetime.now(UTC))
        )
