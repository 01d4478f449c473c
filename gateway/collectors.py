"""Which payers are collectors (post office, terminal networks, compensation payers).

A collector's lump sum on the bank statement settles its itemised registry instead of being
allocated again, so the ingest has to recognise it. Collectors are configured in the
connectors' TOML file (``[[collector]]`` tables: code, name, ibans, name_patterns,
fee_max_permille, lag_days); without a file the gateway knows the demo city's collectors,
whose IBANs the synthetic generator uses.
"""

from __future__ import annotations

import tomllib

from gateway.errors import UserError
from gateway.settings import Settings
from reconciliation.settlement import Collector

DEFAULT_COLLECTORS: tuple[Collector, ...] = (
    Collector(
        "POSTA",
        "Î.S. Poșta Moldovei",
        ibans=("MD46AG000000022512345601",),
        name_patterns=("posta moldovei", "почта молдовы"),
        fee_max_permille=15,
    ),
    Collector(
        "QIWI",
        "QIWI Moldova SRL",
        ibans=("MD63ML000000022519876501",),
        name_patterns=("qiwi",),
        fee_max_permille=20,
    ),
    Collector(
        "RUNPAY",
        "RunPay SRL",
        ibans=("MD91VI000000022514445501",),
        name_patterns=("runpay",),
        fee_max_permille=20,
    ),
    Collector(
        "MMPS",
        "Ministerul Muncii și Protecției Sociale (Ajutor la contor)",
        ibans=("MD12TRPDAA000000022500001",),
        name_patterns=("ministerul muncii", "ajutor la contor", "cnas"),
        fee_max_permille=0,
        lag_days=10,
    ),
    Collector(
        "PMC",
        "Primăria municipiului Chișinău (compensații)",
        ibans=("MD34TRPDAA000000022500002",),
        name_patterns=("primaria", "primăria"),
        fee_max_permille=0,
        lag_days=10,
    ),
)


def load_collectors(settings: Settings) -> tuple[Collector, ...]:
    """Collectors from the config file's ``[[collector]]`` tables, else the defaults."""
    if settings.config_path is None or not settings.config_path.exists():
        return DEFAULT_COLLECTORS
    with open(settings.config_path, "rb") as fh:
        data = tomllib.load(fh)
    tables = data.get("collector", [])
    if not tables:
        return DEFAULT_COLLECTORS
    out = []
    for n, t in enumerate(tables, start=1):
        try:
            out.append(
                Collector(
                    code=str(t["code"]),
                    name=str(t.get("name", t["code"])),
                    ibans=tuple(i.replace(" ", "").upper() for i in t.get("ibans", ())),
                    name_patterns=tuple(str(p).casefold() for p in t.get("name_patterns", ())),
                    fee_max_permille=int(t.get("fee_max_permille", 20)),
                    lag_days=int(t.get("lag_days", 3)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"{settings.config_path}: collector #{n}: bad or missing {exc}"
            ) from None
    return tuple(out)
