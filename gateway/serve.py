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
- Garbage collection is tuned once the app has started (``tune_gc``): everything built at
  start-up is frozen out of the collector's sight, and the young generation is collected
  every 20,000 allocations instead of 700, so a request rarely pays for a collection and the
  full collections that walk the whole heap (the tail of the latency) become rare and short.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from litestar import Litestar

from gateway.errors import UserError
from gateway.settings import Settings

#: How long SIGTERM waits for requests in flight before the server stops anyway.
GRACEFUL_SECONDS = 10
#: Young-generation threshold while serving (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect once, freeze what survives (the app, its modules, caches) and collect rarely.

    A startup hook of the served app, so that it runs in every worker process after the app
    is built; never called by tests, which build many apps in one process.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def served_app(settings: Settings) -> Litestar:
    """The app as ``gateway serve`` runs it: with the schedule and the GC tuning."""
    from gateway.app import create_app

    app = create_app(settings.with_(scheduler=True))
    app.on_startup.append(tune_gc)
    return app


def app_from_env() -> Litestar:
    """The uvicorn factory used by worker processes."""
    from gateway.logging import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    return served_app(settings)


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
    common: dict[str, Any] = {  # uvicorn.run's keyword arguments, each of its own type
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        # forwarded headers only from the configured proxies (uvicorn trusts 127.0.0.1 by
        # default: anything on the host could then claim any address)
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or "",
        # SIGTERM: requests in flight get this long (a post is bounded by write_timeout)
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
    }
    if workers == 1:
        uvicorn.run(served_app(settings), **common)
        return 0
    os.environ["GATEWAY_DATABASE_URL"] = settings.database_url
    uvicorn.run("gateway.serve:app_from_env", factory=True, workers=workers, **common)
    return 0
