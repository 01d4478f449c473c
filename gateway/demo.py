"""`gateway demo` (and `make demo`): the main job on the embedded SQLite default, end to end.

A small synthetic city is generated, its invoice register imported, the day's payment files
from every channel ingested, a demo bank agent created, and the server started with its URLs
and credentials printed. Every step is idempotent, so running the demo twice reuses what is
there (the second ingest of each file says "already ingested").
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from gateway.db import make_engine, reading
from gateway.errors import UserError
from gateway.migrate import upgrade
from gateway.settings import Settings
from reconciliation.service import load_open_lines
from schemas.tables import agents

DEMO_DAY = date(2026, 11, 20)
DEMO_AGENT = "demo-bank"


def demo(settings: Settings, *, host: str, port: int, serve: bool = True) -> int:
    root = settings.data_dir.parent if settings.data_dir.name == "data" else settings.data_dir
    city = root / "demo-city"
    engine = make_engine(settings.database_url)
    upgrade(engine)
    _say(f"database: {settings.database_url}")
    _generate(city)
    _import(engine, city, settings.timezone)
    _showcase(city)
    _ingest_inbox(engine, settings, city)
    key = _demo_agent(engine, root)
    _print_access(engine, host, port, key)
    _print_people(engine, root, host, port)
    if not serve:
        return 0
    from gateway.serve import serve as run_server

    return run_server(settings, host=host, port=port, workers=1)


def _showcase(city: Path) -> None:
    from gateway.demo_showcase import write_showcase

    if write_showcase(city, DEMO_DAY) is not None:
        _say("added a statement with a review item for every reason a statement can carry")


def _print_people(engine: Engine, root: Path, host: str, port: int) -> None:
    from gateway.demo_people import demo_people

    _say(f"workspace:     http://{host}:{port}/app  (sign in as one of these)")
    for name, password in demo_people(engine, root).items():
        _say(f"  {name:<12} password {password}")


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _generate(city: Path) -> None:
    if (city / "register" / "invoices.csv").exists():
        _say(f"city already generated in {city}")
        return
    from fixtures.generate import generate

    summary = generate(city, scale="small", seed=1, day=DEMO_DAY, progress=False)
    _say("generated a small city: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


def _import(engine: Engine, city: Path, timezone: str) -> None:
    from gateway.services.invoices import import_register

    _say(import_register(engine, city / "register", timezone=timezone).describe())


def _ingest_inbox(engine: Engine, settings: Settings, city: Path) -> None:
    from gateway.services.ingest import ingest_path

    inbox = city / "inbox"
    if not inbox.exists():
        _say("no inbox folder: nothing to ingest")
        return
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        result = ingest_path(engine, settings, path, source=path.parent.name)
        _say(result.describe())


def _demo_agent(engine: Engine, root: Path) -> str:
    """The demo agent's key, created once and kept in a local file for later runs."""
    key_file = root / "demo-agent.key"
    with engine.connect() as conn:
        exists = conn.execute(select(agents.c.id).where(agents.c.name == DEMO_AGENT)).first()
    if exists and key_file.exists():
        return key_file.read_text().strip()
    if exists:
        raise UserError(f"agent {DEMO_AGENT} exists but {key_file} is gone; remove the database")
    from gateway.services.agents import add_agent

    created = add_agent(engine, DEMO_AGENT, ip_allow="", sign=False)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(created.key + "\n")
    key_file.chmod(0o600)
    return created.key


def _print_access(engine: Engine, host: str, port: int, key: str) -> None:
    with reading(engine) as conn:
        owing = next(
            (acc for acc, lines in load_open_lines(conn).items()
             if sum(ln.open_amount for ln in lines) > 0),
            None,
        )  # fmt: skip
    account = owing
    base = f"http://{host}:{port}"
    lines = [
        f"health:        {base}/health",
        f"API docs:      {base}/schema/swagger  (OpenAPI: {base}/schema/openapi.json)",
        f"demo agent:    {DEMO_AGENT}",
        f"demo API key:  {key}",
    ]
    if account:
        lines.append(f"try:           curl -H 'X-API-Key: {key}' {base}/pf/v1/accounts/{account}")
    lines.append(f"export:        gateway export payments --day {DEMO_DAY} --out payments.csv")
    for line in lines:
        _say(line)
