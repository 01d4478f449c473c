"""Screenshots of the workspace's main pages at 1366x768, on the demo's generated day.

`make screenshots` (PLATA_SCREENSHOTS=1) writes them to docs/screenshots/, where the README
shows them; an ordinary test run writes them to a temporary folder and only checks that
every page renders with its content.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db import make_engine
from gateway.services import review
from gateway.services.people import Actor, Role
from gateway.services.review.reads import show
from schemas.tables import review_items
from tests.browser.serve import ARGS, CHROMIUM, VIEWPORT, gateway_serve, shots_dir
from tests.conftest import require
from tests.workspace.kit import PASSWORD, add_people

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} not installed")
    root = tmp_path_factory.mktemp("workspace-demo")
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{root / 'gw.db'}",
           "GATEWAY_DATA_DIR": str(root / "data")}  # fmt: skip
    subprocess.run([sys.executable, "-m", "gateway.cli", "demo", "--no-serve"],
                   env={**__import__("os").environ, **env}, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    engine = make_engine(env["GATEWAY_DATABASE_URL"])
    add_people(engine)
    with engine.connect() as conn:
        items = conn.execute(
            select(review_items.c.id, review_items.c.candidates)
            .where(review_items.c.state == "open")
            .order_by(review_items.c.id)
        ).all()
    with_candidates = [i for i, c in items if c]
    shown, worked = with_candidates[0], with_candidates[-1]
    ana, sam = Actor("ana", Role.ACCOUNTANT), Actor("sam", Role.SUPERVISOR)
    state = show(engine, worked).item
    review.assign(engine, ana, worked, state.candidates[0].account_no)
    review.undo(engine, sam, worked, reason="the payer called: another flat")
    engine.dispose()
    with gateway_serve(env) as base:
        yield base, shown


def test_screenshots_of_the_main_pages(demo_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    base, item = demo_server
    out = shots_dir(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{base}/app/login")
        page.screenshot(path=str(out / "workspace-login.png"))
        page.fill("input[name=username]", "sam")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app/queue")
        assert page.locator("tr[data-item]").count() > 5
        page.screenshot(path=str(out / "workspace-queue.png"))
        page.goto(f"{base}/app/items/{item}")
        assert page.locator("table.candidates tr[data-account]").count() >= 1
        page.screenshot(path=str(out / "workspace-item.png"))
        page.goto(f"{base}/app/accounts?q=Popa&item={item}")
        page.screenshot(path=str(out / "workspace-accounts.png"))
        page.goto(f"{base}/app/ageing")
        assert "Oldest item" in page.inner_text("main")
        page.screenshot(path=str(out / "workspace-ageing.png"))
        page.goto(f"{base}/app/approvals")
        assert page.locator("tr[data-approval]").count() == 1
        assert "Undo the assignment of" in page.inner_text("tr[data-approval] td.words")
        page.screenshot(path=str(out / "workspace-approvals.png"))
        page.goto(f"{base}/app/rules")
        page.screenshot(path=str(out / "workspace-rules.png"))
        browser.close()
    pages = ("login", "queue", "item", "accounts", "ageing", "approvals", "rules")
    # named, not counted: with PLATA_SCREENSHOTS=1 other tests' pictures share the folder
    assert all((out / f"workspace-{name}.png").stat().st_size > 0 for name in pages)
