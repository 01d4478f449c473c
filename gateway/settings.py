"""Settings: read from the environment once, by the composition root, and passed down.

Nothing reads ``os.environ`` at import time; ``Settings.from_env()`` is called by the CLI and
by tests build ``Settings`` directly, so two apps with different databases can live in one
process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

from reconciliation.model import CITY_TIMEZONE


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gateway.db"
    data_dir: Path = Path("var/data")
    config_path: Path | None = None  # the connectors' TOML file
    timezone: str = CITY_TIMEZONE
    log_json: bool | None = None  # None: JSON unless stderr is a terminal
    log_level: str = "INFO"
    # API
    rate_limit_per_minute: int = 6000
    signature_window_seconds: int = 300
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or "*");
    #: none by default, so a caller cannot pass an agent's IP allow-list by sending the header.
    trusted_proxies: tuple[str, ...] = ()
    # run the connectors' schedule inside the server process (`gateway serve` turns it on)
    scheduler: bool = False
    # the billing centre's own account: the debtor of its payment orders (pain.001)
    centre_name: str = "Centrul de facturare mun. Chisinau"
    centre_iban: str = "MD24AG000225100013104168"
    centre_bic: str | None = "AGRNMD2X"
    # "HH:MM" in `timezone`: close every earlier open day whose report blocks nothing
    day_close_at: str | None = None
    # the people's workspace (gateway/web)
    secret_key: str | None = None  # signs CSRF tokens; None: kept in DATA_DIR/web-secret
    https: bool = False  # cookies get the Secure attribute
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    # review workspace: a resolution above this many bani waits for a supervisor; consistent
    # decisions before a payer's account is placed by itself (GATEWAY_FOUR_EYES_ABOVE in lei,
    # GATEWAY_LEARN_AFTER)
    four_eyes_above: int = 1_000_000
    learn_after: int = 2
    # reliability: a post not committed within write_timeout seconds is answered 503 and
    # never committed later (GATEWAY_WRITE_TIMEOUT); records per ingest write transaction
    # at most (SQLite) or per round (PostgreSQL), None for the backend's default
    # (GATEWAY_INGEST_ROUND; see services/ingest_rounds.py)
    write_timeout: float = 5.0
    # CPU niceness the batch commands add to themselves (gateway.cli_common.batch_priority)
    batch_nice: int = 10
    ingest_round: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cfg = env.get("GATEWAY_CONFIG")
        return cls(
            database_url=env.get("GATEWAY_DATABASE_URL", cls.database_url),
            data_dir=Path(env.get("GATEWAY_DATA_DIR", str(cls.data_dir))),
            config_path=Path(cfg) if cfg else None,
            log_level=env.get("GATEWAY_LOG_LEVEL", cls.log_level).upper(),
            trusted_proxies=_list(env.get("GATEWAY_TRUSTED_PROXIES", "")),
            centre_name=env.get("GATEWAY_CENTRE_NAME", cls.centre_name),
            centre_iban=env.get("GATEWAY_CENTRE_IBAN", cls.centre_iban).replace(" ", "").upper(),
            centre_bic=env.get("GATEWAY_CENTRE_BIC", cls.centre_bic or "") or None,
            timezone=_zone(env.get("GATEWAY_TIMEZONE") or cls.timezone),
            day_close_at=env.get("GATEWAY_DAY_CLOSE_AT") or None,
            secret_key=env.get("GATEWAY_SECRET_KEY") or None,
            https=env.get("GATEWAY_HTTPS", "") in ("1", "true", "yes"),
            session_idle_minutes=int(
                env.get("GATEWAY_SESSION_IDLE_MINUTES", cls.session_idle_minutes)
            ),
            **_review_settings(env),
            **_reliability_settings(env),
        )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def raw_dir(self) -> Path:
        """Where raw files live, content-addressed: raw/ab/cd/<sha256>."""
        return self.data_dir / "raw"


def _zone(name: str) -> str:
    """An IANA zone name the system knows ("Europe/Chisinau"), else a clear refusal."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from gateway.errors import UserError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"GATEWAY_TIMEZONE={name!r} is not a known time zone") from None
    return name


def _list(text: str) -> tuple[str, ...]:
    """ "a, b" -> ("a", "b")."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


class _ReviewSettings(TypedDict, total=False):
    four_eyes_above: int
    learn_after: int


class _ReliabilitySettings(TypedDict, total=False):
    write_timeout: float
    batch_nice: int
    ingest_round: int


def _review_settings(env: Mapping[str, str]) -> _ReviewSettings:
    from reconciliation.money import parse_amount

    out: _ReviewSettings = {}
    if env.get("GATEWAY_FOUR_EYES_ABOVE"):
        out["four_eyes_above"] = parse_amount(env["GATEWAY_FOUR_EYES_ABOVE"])
    if env.get("GATEWAY_LEARN_AFTER"):
        out["learn_after"] = max(1, int(env["GATEWAY_LEARN_AFTER"]))
    return out


def _reliability_settings(env: Mapping[str, str]) -> _ReliabilitySettings:
    out: _ReliabilitySettings = {}
    if env.get("GATEWAY_WRITE_TIMEOUT"):
        out["write_timeout"] = max(0.1, float(env["GATEWAY_WRITE_TIMEOUT"]))
    if env.get("GATEWAY_BATCH_NICE"):
        out["batch_nice"] = min(19, max(0, int(env["GATEWAY_BATCH_NICE"])))
    if env.get("GATEWAY_INGEST_ROUND"):
        out["ingest_round"] = max(1, int(env["GATEWAY_INGEST_ROUND"]))
    return out
