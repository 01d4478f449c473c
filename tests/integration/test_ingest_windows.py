"""The ingest's write windows on SQLite: long while it is alone, short once another writer
commits (``ingest_rounds.Rounds.window``), and an explicit GATEWAY_INGEST_ROUND caps both."""

from __future__ import annotations

from pathlib import Path

from gateway.db import make_engine
from gateway.services import ingest_rounds
from reconciliation.service.rounds import BUDGET


def test_long_windows_alone_short_ones_once_another_writer_commits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.connect() as conn:
        rounds = ingest_rounds.Rounds(conn, raw_id=1)
        rounds.write()
        alone = rounds.window()
        conn.rollback()
        with engine.begin() as other:  # a post, say
            other.exec_driver_sql("INSERT INTO t VALUES (1)")
        rounds.write()
        busy = rounds.window()
        conn.rollback()
    engine.dispose()
    assert alone == (ingest_rounds.SQLITE_ALONE_ROUND, ingest_rounds.ALONE_BUDGET)
    assert busy == (ingest_rounds.SQLITE_ROUND, BUDGET)


def test_an_asked_round_size_caps_the_long_windows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        rounds = ingest_rounds.Rounds(conn, raw_id=1, most=50)
        rounds.write()
        assert rounds.window()[0] == 50
        conn.rollback()
    engine.dispose()
