"""The demo's people: one per role, with passwords kept in a local file and printed each run.

`make demo` creates ``accountant``, ``supervisor``, ``finance`` and ``viewer`` once, with
random passwords that count as already chosen (no change forced at the first sign-in, so the
README's steps work as written); the passwords live in ``<demo root>/demo-users.txt`` (mode
0600), beside the demo agent's key, and are printed with the workspace's URL on every run.
A real installation uses ``gateway users add``, whose one-time passwords must be changed.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import Engine, select

from gateway.errors import UserError
from gateway.services.people import Role
from gateway.services.users import add_user
from schemas.tables import users

DEMO_PEOPLE = (
    ("accountant", Role.ACCOUNTANT, "Ana Accountant"),
    ("supervisor", Role.SUPERVISOR, "Sergiu Supervisor"),
    ("finance", Role.FINANCE, "Fiona Finance"),
    ("viewer", Role.VIEWER, "Victor Viewer"),
)


def demo_people(engine: Engine, root: Path) -> dict[str, str]:
    """username -> password for the demo's people, created on the first run."""
    path = root / "demo-users.txt"
    known = dict(
        line.split(" ", 1) for line in path.read_text().splitlines() if " " in line
    ) if path.exists() else {}  # fmt: skip
    with engine.connect() as conn:
        existing = set(conn.execute(select(users.c.username)).scalars())
    for name, role, display in DEMO_PEOPLE:
        if name in existing and name in known:
            continue
        if name in existing:
            raise UserError(f"user {name} exists but {path} is gone; remove the database")
        password = secrets.token_urlsafe(9)
        add_user(engine, name, role, display_name=display, password=password)
        known[name] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n} {known[n]}\n" for n, _, _ in DEMO_PEOPLE))
    path.chmod(0o600)
    return {n: known[n] for n, _, _ in DEMO_PEOPLE}
