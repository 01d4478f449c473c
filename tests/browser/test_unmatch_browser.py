"""Unmatch in a real headless Chromium against a real `gateway serve`: an accountant finds a
payment the matcher placed automatically from its account's page, asks to unmatch it, a
supervisor approves, and the payment is in the queue (reason UNMATCHED)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.db import make_engine
from gateway.migrate import upgrade
from tests.browser.serve import ARGS, CHROMIUM, VIEWPORT, gateway_serve, shots_dir
from tests.conftest import require
from tests.workspace.kit import A1, PASSWORD, add_allocated_payment, add_people, insert_city

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, int]]:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} not installed")
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    insert_city(engine)
    add_people(engine)
    pid = add_allocated_payment(engine)
    engine.dispose()
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    with gateway_serve(env) as base:
        yield base, pid


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def signed_in(browser, base: str, user: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{base}/app/queue")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/queue")
    return page


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
    assert row.locator("td").nth(1).inner_text() == "unmatch"
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
