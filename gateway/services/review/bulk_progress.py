"""How far an approved bulk request has run: its approval row's progress, as each batch of
``gateway.services.review.bulk.run_approved`` commits it (the approvals page polls it).

A run that stops half-way (the process died) keeps what its committed batches did; its
progress stops moving, and after ``STALLED_AFTER`` without a batch ``stalled`` says so
(the page stops polling and says the run stopped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Engine, select

from gateway.db import reading
from gateway.errors import NotFound
from reconciliation.review import ActionKind
from schemas.tables import approvals

STALLED_AFTER = timedelta(minutes=2)  # a batch of 500 takes seconds; minutes means it stopped


class BulkProgress(msgspec.Struct, frozen=True):
    """How far an approved bulk request has run (from its approval row)."""

    approval_id: int
    status: str  # the approval's: pending, approved, rejected, withdrawn
    total: int
    progress: int  # items looked at so far (done + skipped)
    done: int
    skipped: int
    at: datetime | None  # when the last batch (else the decision) committed

    @property
    def finished(self) -> bool:
        return self.status == "approved" and self.progress >= self.total

    @property
    def running(self) -> bool:
        return self.status == "approved" and not self.finished

    def stalled(self, now: datetime, after: timedelta = STALLED_AFTER) -> bool:
        """Approved, unfinished, and no batch for ``after``: the run stopped half-way."""
        return self.running and self.at is not None and now - self.at > after


def progress_of(engine: Engine, approval_id: int) -> BulkProgress:
    with reading(engine) as conn:
        row = conn.execute(
            select(approvals.c.action, approvals.c.status, approvals.c.params,
                   approvals.c.result, approvals.c.decided_at)
            .where(approvals.c.id == approval_id)
        ).first()  # fmt: skip
    if row is None or row.action != ActionKind.BULK.value:
        raise NotFound(f"no bulk request {approval_id}")
    res = row.result or {}
    at = datetime.fromisoformat(res["at"]) if res.get("at") else row.decided_at
    return BulkProgress(
        approval_id=approval_id,
        status=row.status,
        total=int(res.get("total") or len(row.params["items"])),
        progress=int(res.get("progress", 0)),
        done=int(res.get("done", 0)),
        skipped=int(res.get("skipped", 0)),
        at=at if at is None or at.tzinfo else at.replace(tzinfo=UTC),
    )
