"""What bank files say about themselves: one row per statement, one per finding.

Written at ingest in the file's own transaction (``record_statements``), so a rolled-back
ingest leaves no statement behind and a re-sent file (the same bytes) adds none. A finding
(balances or batch totals that disagree) never holds the entries back: they are ingested,
and finance's daily report shows the finding until someone acknowledges it (helper 11's
day close writes ``acknowledged_by``/``acknowledged_at``/``ack_comment``).

A statement's business day is the last day it reports on (``FrToDt/ToDtTm``, else its last
booking date, else its start), or the ingest's business day when the file names no date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, insert

from reconciliation.model import StatementSummary
from schemas.tables import statement_findings, statements


def record_statements(
    conn: Connection, raw_file_id: int, summaries: Sequence[StatementSummary], today: date
) -> tuple[int, int]:
    """Insert the statements of one file and their findings; (statements, findings) written."""
    now = datetime.now(UTC)
    n_findings = 0
    for summary in summaries:
        day = summary.business_day() or today
        statement_pk = conn.execute(
            insert(statements).returning(statements.c.id),
            _statement_row(summary, raw_file_id, day, now),
        ).scalar_one()
        rows = [
            {
                "raw_file_id": raw_file_id,
                "statement_id": statement_pk,
                "kind": f.kind.value,
                "expected": f.expected,
                "actual": f.actual,
                "difference": f.difference,
                "detail": f.detail,
                "business_day": day,
                "created_at": now,
            }
            for f in summary.findings
        ]
        if rows:
            conn.execute(insert(statement_findings), rows)
            n_findings += len(rows)
    return len(summaries), n_findings


def _statement_row(
    s: StatementSummary, raw_file_id: int, day: date, now: datetime
) -> dict[str, Any]:
    return {
        "raw_file_id": raw_file_id,
        "kind": s.kind.value,
        "account_iban": s.account_iban,
        "statement_id": (s.statement_id or None) and s.statement_id[:140],
        "sequence": (s.sequence or None) and s.sequence[:35],
        "from_date": s.from_date,
        "to_date": s.to_date,
        "currency": (s.currency or None) and s.currency[:3],
        "opening_balance": s.opening_balance,
        "closing_balance": s.closing_balance,
        "credits": s.credits,
        "debits": s.debits,
        "entry_count": s.entry_count,
        "business_day": day,
        "created_at": now,
    }
