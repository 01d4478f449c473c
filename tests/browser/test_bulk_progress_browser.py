"""A bulk approval in a real headless Chromium against a real `gateway serve`: while the
approved request runs its batches the approvals page shows its progress, then the approved
list shows what was done and skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from schemas import tables as t
from tests.browser.serve import gateway_serve, shots_dir, signed_in, workspace_db
from tests.workspace.kit import A1, DAY

pytestmark = pytest.mark.browser
MANY = 4999  # with the kit's own item, the most one bulk request takes (ten batches)


def _many_items(engine) -> None:  # type: ignore[no-untyped-def]
    """MANY open items whose best candidate is A1 (the rule ``best`` takes them all)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.payments), [
            {"id": 1000 + n, "source": "maib-statement", "external_id": f"M{n}",
             "channel": "transfer", "business_day": DAY, "amount": 100 + n, "currency": "MDL",
             "direction": "credit", "reversal": False, "remittance": f"Popescu {n}",
             "status": "review", "reason": "NAME_ONLY", "created_at": now}
            for n in range(MANY)
        ])  # fmt: skip
        conn.execute(insert(t.review_items), [
            {"payment_id": 1000 + n, "reason": "NAME_ONLY", "state": "open", "created_at": now,
             "candidates": [{"account_no": A1, "score": 0.5, "reason": "holder name"}],
             "search": f"popescu {n}", "business_day": DAY, "amount": 100 + n,
             "channel": "transfer", "source": "maib-statement", "best_score": 500}
            for n in range(MANY)
        ])  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[str]:
    engine, _, env = workspace_db(tmp_path)
    _many_items(engine)
    engine.dispose()
    with gateway_serve(env) as base:
        yield base


def test_a_bulk_approval_shows_its_progress_then_its_result(  # type: ignore[no-untyped-def]
    world, browser, tmp_path: Path
) -> None:
    base, shots = world, shots_dir(tmp_path)
    ana = signed_in(browser, base, "ana")
    ana.goto(f"{base}/app/bulk?preview=1&rule=best&reason=NAME_ONLY")
    assert ana.locator("#eligible").inner_text() == f"{MANY + 1:,}"
    ana.click("#request-bulk")
    ana.wait_for_url("**/app/approvals")

    sam = signed_in(browser, base, "sam")
    sam.goto(f"{base}/app/approvals")
    box = sam.locator("[id^=bulk-progress-]")
    started = time.monotonic()
    sam.locator("tr[data-approval] button.approve").click()
    seen: list[str] = []
    while "status=approved" not in sam.url:
        state = box.get_attribute("data-state", timeout=60_000) if box.count() else None
        if state and state not in seen:
            seen.append(state)
            if state == "running":
                sam.screenshot(path=str(shots / "workspace-bulk-progress.png"))
        sam.wait_for_timeout(100)
    # the progress showed while the batches ran (unless the whole run beat the first poll)
    assert "running" in seen or time.monotonic() - started < 1.0, seen
    sam.wait_for_selector("[data-state=finished]")
    result = sam.locator("[data-state=finished]").inner_text()
    assert f"{MANY + 1:,} resolved" in result and "0 skipped" in result
    assert "items resolved" in sam.locator("#flashes").inner_text()
    sam.screenshot(path=str(shots / "workspace-bulk-done.png"))
