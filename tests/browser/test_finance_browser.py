"""The finance pages in a real headless Chromium against a real `gateway serve`.

A small generated day is loaded (balanced), and the next day gets a statement break, a
registry whose lump sum never came and an unresolved storno. A finance user signs in, sees
the red lines on the next day and the close refused, closes the balanced day with the
button, creates and downloads its payment order, and looks at the charts. Screenshots go
to docs/screenshots/ with PLATA_SCREENSHOTS=1 (`make screenshots`), else to a temporary
folder (``serve.shots_dir``), so a test run leaves the README's pictures alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.generate import generate
from fixtures.writers import PostLine, StatementMeta, WriterEntry, write_camt053
from fixtures.writers.post_registry import write_post_registry
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.services.report import daily_report
from gateway.settings import Settings
from tests.browser.serve import ARGS, CHROMIUM, gateway_serve, shots_dir
from tests.conftest import require
from tests.integration.finance_kit import CENTRE_IBAN, DAY, ingest, load_day, make_city
from tests.workspace.kit import PASSWORD, add_people

pytestmark = pytest.mark.browser
SHOTS = shots_dir(Path(tempfile.mkdtemp(prefix="finance-shots-")))
NEXT = DAY + timedelta(days=1)


def _prepare(root: Path) -> dict[str, str]:
    url = f"sqlite:///{root / 'gw.db'}"
    settings = Settings(database_url=url, data_dir=root / "data", log_json=True)
    engine = make_engine(url)
    upgrade(engine)
    load_day(engine, settings, make_city(root / "city"))
    _history(engine, settings, root)
    add_people(engine)
    report = daily_report(engine, DAY)
    stmt = next(r for r in report.section("statements").rows if r[0] == CENTRE_IBAN and r[6])
    entries = [
        WriterEntry(amount=15000, booking_date=NEXT, acct_svcr_ref="N-1",
                    remittance="plata servicii", debtor_name="Ion"),
        WriterEntry(amount=777, booking_date=NEXT, direction="debit", reversal=True,
                    acct_svcr_ref="GHOST-R", end_to_end_id="GHOST", remittance="Storno"),
    ]  # fmt: skip
    meta = StatementMeta(CENTRE_IBAN, "STMT-NEXT", opening_balance=stmt[9] + 50_000)
    ingest(engine, settings, write_camt053(entries, meta), "next.xml", "statement")
    registry = write_post_registry(
        [PostLine("1000001-2", 4200, NEXT, "MD-2012", "000001")], registry_date=NEXT
    )
    ingest(engine, settings, registry, "post-next.txt", "post")
    engine.dispose()
    return {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(root / "data")}


def _history(engine, settings: Settings, root: Path) -> None:  # type: ignore[no-untyped-def]
    """Six earlier days of counter, post and terminal payments, for the charts."""
    for back in range(1, 7):
        day = DAY - timedelta(days=back)
        out = root / f"history-{day}"
        generate(out, scale="small", seed=1, day=day, progress=False)
        for channel in ("bank_itemised", "post", "terminal"):
            for path in sorted((out / "inbox" / channel).glob("*")):
                ingest(engine, settings, path.read_bytes(), path.name, channel)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} not installed")
    root = tmp_path_factory.mktemp("finance-browser")
    with gateway_serve(_prepare(root)) as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        pg.goto(f"{server}/app/login")
        pg.fill("input[name=username]", "fay")
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url("**/app/**")
        yield pg
        browser.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_red_lines_and_a_refused_close(server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/app/finance/day/{NEXT}")
    assert "block the close" in page.inner_text(".banner")
    red = page.locator("table.findings tr.red")
    assert red.count() >= 3
    keys = page.locator("table.findings tr.red code").all_inner_texts()
    assert any(k.startswith("break:") for k in keys) and any(k.startswith("lump:") for k in keys)
    page.fill(f"input[name='ack:{keys[0]}']", "checked with the bank")
    page.click("button.primary")
    page.wait_for_load_state()
    assert "cannot close" in page.inner_text("#flashes")
    assert page.locator("table.findings tr.red").count() == len(keys) - 1  # the ack was kept
    _shot(page, "finance-day-red-lines.png")


def test_close_the_balanced_day_and_download_its_order(server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/app/finance/day/{DAY}")
    assert "nothing blocks the close" in page.inner_text(".banner")
    page.click("button.primary")
    page.wait_for_load_state()
    assert "frozen snapshot" in page.inner_text(".banner")
    _shot(page, "finance-day-closed.png")
    page.goto(f"{server}/app/finance/orders")
    page.fill("input[name=day]", str(DAY))
    page.click("button.primary")
    page.wait_for_load_state()
    assert "pain001_remittance" in page.inner_text("#flashes")
    with page.expect_download() as download:
        page.click("text=download")
    path = download.value.path()
    assert b"pain.001.001.03" in Path(path).read_bytes()
    _shot(page, "finance-orders.png")


def test_charts_are_drawn_server_side(server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/app/finance/charts?end={NEXT}")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart rect title").count() > 5
    _shot(page, "finance-charts.png")
