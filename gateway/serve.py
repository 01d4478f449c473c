"""`gateway serve`: uvicorn running ``create_app(settings)``, one process or several.

Decisions:

- One process (the default) builds the app in this process and hands the object to uvicorn.
  Several processes (``--workers N``) need an import string, so uvicorn's workers call
  ``gateway.serve:app_from_env`` as a factory, which rebuilds ``Settings`` from the
  environment in each worker (settings are still never read at import time).
- Several workers need PostgreSQL: with SQLite the processes would fight over one file lock
  (each process serializes its own writers, not its neighbours') and the per-process
  caches assume one writer. We refuse clearly instead of running slowly.
- The connectors' schedule runs inside the server (``Settings.scheduler``); with several
  processes each starts one, and the PostgreSQL advisory lock per job run lets exactly one of
  them run each job.
- uvloop and httptools are used when installed (uvicorn's "auto"), the fastest choice; the
  access log is off because every request is already logged by the app, without personal
  data, where that matters.
"""

from __future__ import annotations

import os

from litestar import Litestar

from gateway.errors import UserError
from gateway.settings import Settings


def app_from_env() -> Litestar:
    """The uvicorn factory used by worker processes."""
    from gateway.app import create_app
    from gateway.logging import configure_logging

    settings = Settings.from_env().with_(scheduler=True)
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def _is_sqlite(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] == "sqlite"


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> int:
    """Run the HTTP server until interrupted; returns the exit code."""
    import uvicorn

    if workers < 1:
        raise UserError("--workers must be at least 1")
    if workers > 1 and _is_sqlite(settings.database_url):
        raise UserError(
            "several workers need PostgreSQL (GATEWAY_DATABASE_URL=postgresql://...); "
            "SQLite serves one process"
        )
    common = {"host": host, "port": port, "access_log": False, "log_level": "warning"}
    if workers == 1:
        from gateway.app import create_app

        uvicorn.run(create_app(settings.with_(scheduler=True)), **common)
        return 0
    os.environ["GATEWAY_DATABASE_URL"] = settings.database_url
    uvicorn.run("gateway.serve:app_from_env", factory=True, workers=workers, **common)
    return 0
