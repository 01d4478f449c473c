"""`gateway db upgrade`: Alembic, configured in code so no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent.parent / "schemas" / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a migration from schemas/tables.py."""
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)


def schema_problem(database_url: str) -> str | None:
    """Why the database cannot serve this gateway, said for an operator; None when it can.

    Asked after a database error (not before every command: loading the migration scripts
    costs more than most commands), so "no such table" becomes "run `gateway db upgrade`".
    """
    from gateway.db import make_engine

    shown = display_url(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
        return f"cannot open the database {shown}: {reason or type(exc).__name__}"
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    if current is None:
        return f"the database {shown} has no schema yet: run `gateway db upgrade`"
    if current in heads:
        return None
    try:
        script.get_revision(current)
    except CommandError:
        return (
            f"the database {shown} is at migration {current}, which this gateway does not "
            "know (was it migrated by a newer version?)"
        )
    return (
        f"the database {shown} is at migration {current}, this gateway needs "
        f"{', '.join(heads)}: run `gateway db upgrade`"
    )


def display_url(database_url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown as its scheme only
        return database_url.split(":", 1)[0] + "://…"
