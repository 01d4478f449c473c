"""The messy day (``fixtures generate --mix messy``) on both backends: every payment's
decision equals the golden file written by the matcher before the name index was rebuilt
(tests/integration/golden/messy_small_decisions.csv), and the score is clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures.generate import generate
from gateway.services.ingest import ingest_path
from gateway.services.invoices import import_register
from gateway.services.score import score
from reconciliation.service import names as name_store
from tests.golden import Golden

GOLDEN = Path(__file__).parent / "golden" / "messy_small_decisions.csv"


@pytest.fixture(scope="module")
def messy_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("messy")
    generate(out, scale="small", seed=1, mix="messy")
    return out


def _decisions(engine) -> str:  # type: ignore[no-untyped-def]
    q = text(
        "SELECT external_id, status, coalesce(account_no, ''), coalesce(reason, '') FROM payments"
    )
    with engine.connect() as conn:  # sorted here: PostgreSQL's collation orders ids otherwise
        rows = sorted(conn.execute(q).all())
    return "".join(f"{e},{s},{a},{r}\n" for e, s, a, r in rows)


def test_messy_day_decisions_equal_the_golden_file(
    engine, settings, messy_day: Path, golden: Golden
) -> None:
    import_register(engine, messy_day / "register")
    (statement,) = (messy_day / "inbox" / "statement").iterdir()
    result = ingest_path(engine, settings, statement, source="camt053")
    assert result.status == "applied"
    golden.check(GOLDEN, _decisions(engine))
    report = score(engine, messy_day)
    assert not report.lost and not report.misallocated and not report.unbalanced
    assert report.auto_rate == 1.0
    assert report.review_reasons["NAME_ONLY"] > 0


def test_name_index_is_built_once_and_rebuilt_when_the_accounts_change(
    engine, settings, messy_day: Path
) -> None:
    name_store.forget()
    import_register(engine, messy_day / "register")
    with engine.connect() as conn:
        first = name_store.shared_names(conn)()
        again = name_store.shared_names(conn)()
    assert again is first and len(first) > 1000
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET payer_name = 'Ion Nou' WHERE id = 1"))
    with engine.connect() as conn:
        fresh = name_store.shared_names(conn)()
    assert fresh is not first
    assert any(acc for acc, _ in fresh.suggest("Ion Nou"))
