"""Which payers are collectors (post office, terminal networks, compensation payers).

A collector's lump sum on the bank statement settles its itemised registry instead of being
allocated again, so the ingest has to recognise it. Collectors are configured in the
gateway's TOML file (``[[collector]]`` tables, read by ``connectors.config``, the file's one
loader); when the file names none (or there is no file) the gateway knows the demo city's
collectors, whose IBANs the synthetic generator uses.
"""

from __future__ import annotations

from connectors.config import GatewayConfig, load_file
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
    return collectors_of(load_file(settings))


def collectors_of(config: GatewayConfig) -> tuple[Collector, ...]:
    """The file's collectors; the demo city's when it names none."""
    return config.collectors if config.collectors is not None else DEFAULT_COLLECTORS
