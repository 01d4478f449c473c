"""`gateway db upgrade`: Alembic, configured in code so no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "schemas" / "migrations"


def alembic_config(connection=None) -> Config:  # type: ignore[no-untyped-def]
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
