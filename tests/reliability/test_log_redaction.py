"""No database error text reaches a log line unredacted (issue 14, defect 4).

A PostgreSQL COPY error quotes the failing row in its CONTEXT (a payer's name, address and
phone); SQLAlchemy adds the statement's parameters. A child process configures logging as
the gateway does, provokes such an error through the gateway's engine and logs it with
structlog and with the standard library; its stderr must name the error, not the person.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.api.live import ROOT

PERSON = "Ion Popescu, str. Ismail 86, ap. 12, tel 069123456"

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from sqlalchemy import text
    from gateway.db import make_engine
    from gateway.logging import configure_logging, get_logger

    configure_logging("INFO", json=True)
    engine = make_engine(sys.argv[1])
    person = sys.argv[2]
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS t (id int, name varchar(10))"))
        try:
            if engine.dialect.name == "postgresql":
                raw = conn.connection.driver_connection
                with raw.cursor().copy("COPY t (id, name) FROM STDIN") as copy:
                    copy.write_row((1, person))
            else:
                conn.execute(text("SELECT CAST(:p AS int) FROM nosuchtable"), {"p": person})
        except Exception as exc:
            get_logger("t").error("write failed", exc_info=exc)
            logging.getLogger("apscheduler").exception("job failed", exc_info=exc)
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO nosuchtable VALUES (:p)"), {"p": person})
    except Exception as exc:
        get_logger("t").error("insert failed", exc_info=exc)
    """
)


def test_database_errors_are_logged_without_the_data_they_quote(db_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, db_url, PERSON],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    err = run.stderr
    assert run.returncode == 0, err[-2000:]
    assert err.count("write failed") == 1 and "job failed" in err and "insert failed" in err
    assert "Popescu" not in err and "069123456" not in err and "Ismail" not in err
    assert "Traceback" in err  # the frames are still there for whoever fixes it
