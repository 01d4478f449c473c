"""The gateway's TOML file (``GATEWAY_CONFIG``): the one loader and the one schema.

The file holds ``[[connector]]`` tables (what to pull, from where, when), ``[[collector]]``
tables (whose lump sums settle registries: ``reconciliation.settlement.Collector``) and an
optional ``[allocation]`` table (provider priority groups:
``reconciliation.allocate.AllocationPolicy``) and an optional ``[plausibility]`` table (what an
ingest places without asking a person: ``reconciliation.screen.Plausibility``).
``read_config`` parses all of it into a frozen ``GatewayConfig``; ``gateway pull``, the
scheduler, the ingest and the API all read the file through it, so a file one of them
accepts is accepted by all.

Why so strict: a typo in a connector file (``knwon_hosts``, ``kind = "stfp"``) must stop the
operator at ``gateway pull`` with the connector and the field named, not surface at 03:00 as
a job that silently does nothing. Unknown keys are refused for the same reason. Relative
paths are taken relative to the TOML file, so a config folder can be moved as a whole.

The format is documented in schemas/formats/connectors_toml.md.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from connectors.cron import cron_trigger
from connectors.formats import FORMATS
from connectors.formats.base import ReadOptions
from connectors.formats.mt940_quirks import QUIRKS
from gateway.errors import UserError
from gateway.settings import Settings
from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.money import MoneyError, parse_amount
from reconciliation.screen import DEFAULT_PLAUSIBILITY, Plausibility
from reconciliation.settlement import Collector, fold

KINDS = ("sftp", "http", "folder")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
FORMAT_RE = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
REQUIRED = {
    "sftp": ("host", "user", "key", "known_hosts", "remote_dir"),
    "http": ("base_url",),
    "folder": ("path",),
}
PATH_FIELDS = ("key", "known_hosts", "path")


@dataclass(frozen=True)
class ConnectorConfig:
    """One ``[[connector]]`` table. Fields not used by a kind stay None."""

    name: str
    kind: str
    format: str = "auto"
    schedule: str | None = None  # crontab, evaluated in Settings.timezone
    enabled: bool = True
    # sftp
    host: str | None = None
    port: int = 22
    user: str | None = None
    key: Path | None = None  # private key file
    known_hosts: Path | None = None  # the pinned host keys; nothing else is trusted
    remote_dir: str | None = None
    archive_dir: str | None = None  # sftp: remote folder; folder: subfolder of path
    # http
    base_url: str | None = None
    token: str | None = None  # bearer token; prefer token_env to keep it out of the file
    token_env: str | None = None
    # folder
    path: Path | None = None
    # reading the files (connectors.formats.base.ReadOptions; schemas/formats/bank_files.md)
    strict_balances: bool = False  # refuse a file whose balances or batch totals disagree
    encoding: str | None = None  # a text file's encoding where detection cannot decide
    intraday_booked: bool = False  # camt.052 entries as money, not information
    quirks: tuple[str, ...] | None = None  # MT940 bank-quirk hooks; None: the default set
    # robustness
    attempts: int = 5  # per file / per page, including the first try
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled each time after
    timeout: float = 30.0  # seconds for connect and for each network read

    def read_options(self) -> ReadOptions:
        """How this connector's files are read."""
        return ReadOptions(self.strict_balances, self.encoding, self.intraday_booked, self.quirks)

    def bearer_token(self) -> str | None:
        """The token to send: from the named environment variable if given, else the file's."""
        if self.token_env:
            value = os.environ.get(self.token_env)
            if not value:
                raise UserError(
                    f"connector {self.name}: token_env {self.token_env} is not set or empty"
                )
            return value
        return self.token


_FIELDS = {f.name for f in fields(ConnectorConfig)}


@dataclass(frozen=True)
class GatewayConfig:
    """The whole file. ``collectors`` is None when it names none (the caller's defaults apply)."""

    connectors: tuple[ConnectorConfig, ...] = ()
    collectors: tuple[Collector, ...] | None = None
    allocation: AllocationPolicy = DEFAULT_POLICY
    plausibility: Plausibility = DEFAULT_PLAUSIBILITY


TOP_LEVEL = ("connector", "collector", "allocation", "plausibility")
PLAUSIBILITY_FIELDS = ("past_days", "future_days", "max_advance_credit")


def load_file(settings: Settings) -> GatewayConfig:
    """The file named by ``Settings.config_path``; an empty config when none is named."""
    if settings.config_path is None:
        return GatewayConfig()
    return read_config(settings.config_path)


def load_connectors(settings: Settings) -> tuple[ConnectorConfig, ...]:
    """The connectors of the file named by ``Settings.config_path`` (GATEWAY_CONFIG)."""
    if settings.config_path is None:
        raise UserError("no connectors configured: set GATEWAY_CONFIG to the connectors' TOML")
    return read_config(settings.config_path).connectors


def read_config(path: Path) -> GatewayConfig:
    """Read and validate the file; ``UserError`` naming the file, the table and the field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: connectors file not found") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, base_dir=path.parent, where=str(path))


def parse_config(raw: dict[str, Any], *, base_dir: Path, where: str = "config") -> GatewayConfig:
    """Validate an already-parsed TOML document (tests and the loader share this)."""
    unknown = set(raw) - set(TOP_LEVEL)
    if unknown:
        raise UserError(
            f"{where}: unknown top-level key(s): {', '.join(sorted(unknown))} "
            f"(known: {', '.join(TOP_LEVEL)})"
        )
    tables = _array(raw, "connector", where)
    connectors = tuple(
        _parse_one(t, index=i, base_dir=base_dir, where=where) for i, t in enumerate(tables)
    )
    _check_unique((c.name for c in connectors), "connector {}: name", where)
    collector_tables = _array(raw, "collector", where)
    collectors = tuple(_collector(t, i, where) for i, t in enumerate(collector_tables))
    _check_unique((c.code for c in collectors), "collector {}: code", where)
    return GatewayConfig(
        connectors=connectors,
        collectors=collectors or None,
        allocation=_allocation(raw.get("allocation", {}), where),
        plausibility=_plausibility(raw.get("plausibility", {}), where),
    )


def _array(raw: dict[str, Any], key: str, where: str) -> list[Any]:
    tables = raw.get(key, [])
    if not isinstance(tables, list):
        raise UserError(f"{where}: '{key}' must be an array of tables ([[{key}]])")
    return tables


def _check_unique(keys: Iterable[str], what: str, where: str) -> None:
    """``what`` is the table and its key field, e.g. "connector {}: name"."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise UserError(f"{where}: {what.format(key)} used twice")
        seen.add(key)


def _parse_one(table: Any, *, index: int, base_dir: Path, where: str) -> ConnectorConfig:
    if not isinstance(table, dict):
        raise UserError(f"{where}: connector #{index + 1} is not a table")
    name = table.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UserError(
            f"{where}: connector #{index + 1}: field name: required, 1-64 of a-z 0-9 _ - "
            f"(got {name!r})"
        )
    label = f"{where}: connector {name}"
    unknown = set(table) - _FIELDS
    if unknown:
        raise UserError(f"{label}: unknown field(s): {', '.join(sorted(unknown))}")
    values = {key: _check_type(label, key, value) for key, value in table.items()}
    kind = values.get("kind")
    if kind not in KINDS:
        raise UserError(f"{label}: field kind: must be one of {', '.join(KINDS)} (got {kind!r})")
    for key in REQUIRED[kind]:
        if values.get(key) in (None, ""):
            raise UserError(f"{label}: field {key}: required for kind {kind}")
    for key in PATH_FIELDS:
        if key in values:
            values[key] = (base_dir / Path(values[key]).expanduser()).resolve()
    if "quirks" in values:
        values["quirks"] = tuple(values["quirks"])
    config = ConnectorConfig(**values)
    _check_values(label, config)
    return config


_TYPES: dict[str, tuple[type, ...]] = {
    "port": (int,),
    "attempts": (int,),
    "enabled": (bool,),
    "strict_balances": (bool,),
    "intraday_booked": (bool,),
    "quirks": (list,),
    "backoff": (int, float),
    "timeout": (int, float),
}


def _check_type(label: str, key: str, value: Any) -> Any:
    expected = _TYPES.get(key, (str,))
    # bool is an int in Python; a port of `true` is a mistake, not 1
    if isinstance(value, bool) and bool not in expected:
        raise UserError(f"{label}: field {key}: expected {_type_name(expected)}, got boolean")
    if not isinstance(value, expected):
        raise UserError(
            f"{label}: field {key}: expected {_type_name(expected)}, got {type(value).__name__}"
        )
    # a float field accepts int | float only, so the isinstance always holds there
    return float(value) if float in expected and isinstance(value, int | float) else value


def _type_name(types: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        list: "a list of strings",
    }
    return names[types[-1]]


def _check_values(label: str, c: ConnectorConfig) -> None:
    if not FORMAT_RE.fullmatch(c.format) or c.format not in ("auto", *FORMATS):
        known = ", ".join(sorted(FORMATS))
        raise UserError(
            f"{label}: field format: 'auto' or a format name: {known} (got {c.format!r})"
        )
    if not 1 <= c.port <= 65535:
        raise UserError(f"{label}: field port: must be 1-65535 (got {c.port})")
    if not 1 <= c.attempts <= 20:
        raise UserError(f"{label}: field attempts: must be 1-20 (got {c.attempts})")
    if not 0 <= c.backoff <= 300:
        raise UserError(f"{label}: field backoff: seconds, 0-300 (got {c.backoff})")
    if not 0 < c.timeout <= 3600:
        raise UserError(f"{label}: field timeout: seconds, above 0 and at most 3600")
    if c.base_url is not None and not re.match(r"^https?://[^/\s]+", c.base_url):
        raise UserError(f"{label}: field base_url: must start with http:// or https://")
    if c.token and c.token_env:
        raise UserError(f"{label}: fields token and token_env: give one, not both")
    if c.schedule is not None:
        _check_cron(label, c.schedule)
    _check_reading(label, c)


def _check_reading(label: str, c: ConnectorConfig) -> None:
    if c.encoding is not None:
        try:
            codecs.lookup(c.encoding)
        except LookupError:
            raise UserError(f"{label}: field encoding: unknown encoding {c.encoding!r}") from None
    if c.quirks is not None:
        unknown = [q for q in c.quirks if not isinstance(q, str) or q not in QUIRKS]
        if unknown:
            raise UserError(
                f"{label}: field quirks: unknown {unknown[0]!r} (known: {', '.join(QUIRKS)})"
            )


def _check_cron(label: str, expr: str) -> None:
    try:
        cron_trigger(expr)
    except ValueError as exc:
        raise UserError(f"{label}: field schedule: not a valid crontab: {exc}") from None


# --- [[collector]] and [allocation] -------------------------------------------------------

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# Shape only: statements carry the collector's IBAN as written, and the demo city's synthetic
# ones do not pass mod-97; what this catches is a stray space, letter case or a wrong field.
IBAN_SHAPE_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
COLLECTOR_FIELDS = (
    "code",
    "name",
    "ibans",
    "name_patterns",
    "entry_patterns",
    "fee_max_permille",
    "lag_days",
)
ALLOCATION_FIELDS = ("provider_priority", "priority_within_period")


def _collector(table: Any, index: int, where: str) -> Collector:
    if not isinstance(table, dict):
        raise UserError(f"{where}: collector #{index + 1} is not a table")
    code = table.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise UserError(
            f"{where}: collector #{index + 1}: field code: required, as the registries name "
            f"the collector (1-64 of A-Z a-z 0-9 _ . -; got {code!r})"
        )
    label = f"{where}: collector {code}"
    unknown = set(table) - set(COLLECTOR_FIELDS)
    if unknown:
        raise UserError(f"{label}: unknown field(s): {', '.join(sorted(unknown))}")
    name = table.get("name", code)
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{label}: field name: expected a non-empty string")
    ibans = tuple(i.replace(" ", "").upper() for i in _strings(label, table, "ibans"))
    bad = [i for i in ibans if not IBAN_SHAPE_RE.match(i)]
    if bad:
        raise UserError(f"{label}: field ibans: not an IBAN: {bad[0]!r}")
    patterns = tuple(fold(p) for p in _strings(label, table, "name_patterns"))
    entry_patterns = tuple(_strings(label, table, "entry_patterns"))
    for p in entry_patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise UserError(f"{label}: field entry_patterns: {p!r} is not a regular expression "
                            f"({exc})") from None  # fmt: skip
    if not ibans and not patterns and not entry_patterns:
        raise UserError(
            f"{label}: give ibans, name_patterns or entry_patterns, or it can never be recognised"
        )
    return Collector(
        code=code,
        name=name.strip(),
        ibans=ibans,
        name_patterns=patterns,
        entry_patterns=entry_patterns,
        fee_max_permille=_int(label, table, "fee_max_permille", 20, 0, 1000),
        lag_days=_int(label, table, "lag_days", 3, 0, 60),
    )


def _strings(label: str, table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UserError(f"{label}: field {key}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def _int(label: str, table: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{label}: field {key}: expected an integer {low}-{high}, got {value!r}")
    return value


def _allocation(table: Any, where: str) -> AllocationPolicy:
    label = f"{where}: [allocation]"
    if not isinstance(table, dict):
        raise UserError(f"{label}: must be a table")
    unknown = set(table) - set(ALLOCATION_FIELDS)
    if unknown:
        raise UserError(f"{label}: unknown field(s): {', '.join(sorted(unknown))}")
    groups = table.get("provider_priority", [])
    example = 'e.g. [["TERMO"], ["APA", "IMGFL"]]'
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and g and all(isinstance(p, str) and p.strip() for p in g)
        for g in groups
    ):
        raise UserError(
            f"{label}: field provider_priority: a list of groups, each a non-empty list of "
            f"provider codes, {example}"
        )
    seen: set[str] = set()
    for code in (p.strip() for g in groups for p in g):
        if code in seen:
            raise UserError(f"{label}: field provider_priority: provider {code} in two groups")
        seen.add(code)
    within = table.get("priority_within_period", False)
    if not isinstance(within, bool):
        raise UserError(f"{label}: field priority_within_period: expected true or false")
    return AllocationPolicy(
        provider_priority=tuple(tuple(p.strip() for p in g) for g in groups),
        priority_within_period=within,
    )


def _plausibility(table: Any, where: str) -> Plausibility:
    """``[plausibility]``: past_days, future_days (the booking dates placed without review)
    and max_advance_credit ("100000.00": the most advance credit one payment may leave)."""
    label = f"{where}: [plausibility]"
    if not isinstance(table, dict):
        raise UserError(f"{label}: must be a table")
    unknown = set(table) - set(PLAUSIBILITY_FIELDS)
    if unknown:
        raise UserError(f"{label}: unknown field(s): {', '.join(sorted(unknown))}")
    default = Plausibility()
    credit = table.get("max_advance_credit")
    try:
        ceiling = default.max_advance_bani if credit is None else parse_amount(str(credit))
    except MoneyError:
        raise UserError(
            f'{label}: field max_advance_credit: an amount such as "100000.00"'
        ) from None
    return Plausibility(
        past_days=_int(label, table, "past_days", default.past_days, 1, 36_500),
        future_days=_int(label, table, "future_days", default.future_days, 0, 3_650),
        max_advance_bani=ceiling,
    )


def find_connector(connectors: Iterable[ConnectorConfig], name: str) -> ConnectorConfig:
    """The connector called ``name``; ``UserError`` listing the known names otherwise."""
    connectors = tuple(connectors)
    for c in connectors:
        if c.name == name:
            return c
    known = ", ".join(c.name for c in connectors) or "none configured"
    raise UserError(f"unknown connector {name!r} (known: {known})")
