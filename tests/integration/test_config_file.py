"""One TOML file read by one loader: pull, scheduler and ingest accept the same file, and its
collectors and allocation policy are the ones the ingest uses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from connectors.schedule import build_scheduler, job_id
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from fixtures.writers.post_registry import PostLine, write_post_registry
from gateway.services.ingest import ingest_bytes
from gateway.settings import Settings
from schemas import tables as t
from tests.integration.citykit import ACC_ION, load_tiny_city
from tests.integration.cli import gateway, gateway_env

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
DAY = date(2026, 11, 20)
OTHER_IBAN = "MD02EX000000022599999901"  # a collector only the file knows
FILE = """
[allocation]
provider_priority = [["APA"]]

[[collector]]
code = "POSTA"
name = "Poșta (configured)"
ibans = ["{iban}"]
fee_max_permille = 15

[[connector]]
name = "inbox"
kind = "folder"
path = "{drop}"
schedule = "*/5 * * * *"
"""


@pytest.fixture
def configured(settings: Settings, tmp_path: Path) -> Settings:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = tmp_path / "gateway.toml"
    path.write_text(FILE.format(iban=OTHER_IBAN, drop=drop), encoding="utf-8")
    return settings.with_(config_path=path)


def test_pull_and_scheduler_accept_collectors_and_allocation(
    engine: Engine, configured: Settings
) -> None:
    """Defect 8: ``[[collector]]`` as documented made ``gateway pull`` refuse the file."""
    assert configured.config_path is not None
    drop = configured.config_path.parent / "drop"
    (drop / "a.txt").write_bytes((SAMPLES / "post_registry" / "posta_utf8_bom.txt").read_bytes())
    env = gateway_env(configured.database_url, configured.data_dir, configured.config_path)
    done = gateway(env, "pull", "inbox")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("inbox: a.txt: ") and done.stderr == ""
    scheduler = build_scheduler(engine, configured)
    assert [job.id for job in scheduler.get_jobs()] == [job_id("inbox")]


def _registry() -> bytes:
    return write_post_registry([PostLine(ACC_ION, 30000, DAY, "MD-2068", "R1")], registry_date=DAY)


def _lump_sum() -> bytes:
    entry = WriterEntry(
        amount=30000,
        booking_date=DAY,
        acct_svcr_ref="LS1",
        debtor_name="SRL Incasari Generale",  # no built-in pattern matches this payer
        debtor_iban=OTHER_IBAN,
        remittance="registru 20.11.2026",
    )
    return write_camt053([entry], StatementMeta(iban="MD24AG000225100013104168", statement_id="S"))


def _settled(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t.settlements)).scalar_one()


@pytest.mark.parametrize("with_file", [True, False])
def test_the_files_collectors_settle_lump_sums(
    engine: Engine, settings: Settings, configured: Settings, with_file: bool
) -> None:
    load_tiny_city(engine)
    used = configured if with_file else settings
    for name, data in (("reg.txt", _registry()), ("st.xml", _lump_sum())):
        assert ingest_bytes(engine, used, data, filename=name, source=name).status == "applied"
    with engine.connect() as conn:
        rows = conn.execute(select(t.settlements.c.status, t.settlements.c.statement_amount)).all()
    assert (rows == [("settled", 30000)]) is with_file, rows


def _paid_by_provider(engine: Engine) -> dict[str, int]:
    a, ln = t.allocations, t.invoice_lines
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.providers.c.code, func.sum(a.c.amount))
            .join(ln, ln.c.id == a.c.invoice_line_id)
            .join(t.providers, t.providers.c.id == ln.c.provider_id)
            .group_by(t.providers.c.code)
        ).all()
    return {code: int(total) for code, total in rows}


@pytest.mark.parametrize("with_file", [True, False])
def test_configured_provider_priority_changes_the_split(
    engine: Engine, settings: Settings, configured: Settings, with_file: bool
) -> None:
    """Defect 9: the file's [allocation] reaches the ingest. ION owes TERMO 300 lei (October)
    and 600 (November), APA 200 (November); 300 lei without services pays October's heat
    by default, and the water first when APA has priority."""
    load_tiny_city(engine)
    used = configured if with_file else settings
    assert ingest_bytes(engine, used, _registry(), filename="r.txt").status == "applied"
    expected = {"APA": 20000, "TERMO": 10000} if with_file else {"TERMO": 30000}
    assert _paid_by_provider(engine) == expected
