"""`make demo`'s day: review items of every reason a statement can carry, and its people."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gateway.db import make_engine
from gateway.demo import demo
from gateway.settings import Settings
from schemas.tables import review_items, users


def test_demo_day_has_every_statement_reason_and_the_people(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'gw.db'}",
                        data_dir=tmp_path / "var" / "data", log_json=True)  # fmt: skip
    assert demo(settings, host="127.0.0.1", port=8000, serve=False) == 0
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        reasons = set(conn.execute(select(review_items.c.reason).distinct()).scalars())
        people = conn.execute(select(func.count()).select_from(users)).scalar_one()
    engine.dispose()
    assert {
        "NO_REFERENCE", "CHECK_DIGIT_FAILED", "CHECK_DIGIT_MISSING", "ACCOUNT_NOT_FOUND",
        "ACCOUNT_CLOSED", "MULTIPLE_ACCOUNTS", "UNCONFIRMED_NUMBER", "NAME_ONLY",
        "UNKNOWN_INVOICE", "UNKNOWN_PAYMENT_REF", "AMOUNT_MISMATCH_INVOICE", "LIKELY_DUPLICATE",
        "REVERSAL_UNMATCHED", "FIELD_TOO_LONG", "IMPLAUSIBLE_DATE", "IMPLAUSIBLE_CREDIT",
    } <= reasons  # fmt: skip
    assert people == 4
    assert (tmp_path / "var" / "demo-users.txt").stat().st_mode & 0o777 == 0o600
