"""Unmatch in a real headless Chromium against a real `gateway serve`: an accountant finds a
payment the matcher placed automatically from its account's page, asks to unmatch it, a
supervisor approves, and the payment is in the queue (reason UNMATCHED)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.serve import gateway_serve, shots_dir, signed_in, workspace_db
from tests.workspace.kit import A1, add_allocated_payment

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, int]]:
    engine, _, env = workspace_db(tmp_path)
    pid = add_allocated_payment(engine)
    engine.dispose()
    with gateway_serve(env) as base:
        yield base, pid


def test_unmatch_an_automatic_allocation_from_the_account_page(  # type: ignore[no-untyped-def]
    world, browser, tmp_path: Path
) -> None:
    base, pid = world
    shots = shots_dir(tmp_path)
    ana = signed_in(browser, base, "ana")
    assert ana.locator("tr[data-item]").count() == 5
    ana.goto(f"{base}/app/accounts?q={A1}")
    ana.click(f"a[href='/app/accounts/{A1}']")
    ana.click(f"#account-payments a[href='/app/payments/{pid}']")
    ana.wait_for_url(f"**/app/payments/{pid}")
    assert ana.locator("#payment-status").inner_text() == "allocated"
    assert ana.locator("#payment-rows tbody tr").count() == 2
    ana.fill("input[name=reason]", "the payer lives in the flat next door")
    ana.screenshot(path=str(shots / "workspace-payment-unmatch.png"))
    ana.click("#unmatch")
    ana.wait_for_url(f"**/app/payments/{pid}")
    assert "waits for a supervisor" in ana.locator("#flashes").inner_text()
    assert ana.locator("#unmatch-pending").is_visible()

    sam = signed_in(browser, base, "sam")
    sam.goto(f"{base}/app/approvals")
    row = sam.locator("tr[data-approval]", has_text=f"payment {pid}")
    assert row.get_attribute("data-action") == "unmatch"
    assert "Take back the automatic placement of 150.00 MDL" in row.locator("td.words").inner_text()
    row.locator("button.approve").click()
    sam.wait_for_url("**/app/approvals")
    sam.goto(f"{base}/app/queue?reason=UNMATCHED")
    unmatched = sam.locator("tr[data-item]")
    assert unmatched.count() == 1 and "150.00" in unmatched.inner_text()
    sam.goto(f"{base}/app/payments/{pid}")
    assert sam.locator("#payment-status").inner_text() == "review"
    assert sam.locator("#payment-rows tbody tr").count() == 4  # two rows, two compensations
    sam.click("#payment-item")
    assert "UNMATCHED" in sam.locator("main").inner_text()
    sam.screenshot(path=str(shots / "workspace-payment-unmatched-item.png"))
