"""Finance pages through the app (both databases): the daily report with its red lines, the
day close with acknowledgements, the orders with download, the charts; roles enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.settings import Settings
from tests.integration.finance_kit import DAY, load_day, make_city
from tests.workspace.kit import add_people, csrf_of, sign_in


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("finance-pages-city"))


@pytest.fixture
def app(settings: Settings, engine: Engine, city: Path) -> Iterator[TestClient]:
    load_day(engine, settings, city)
    add_people(engine)
    with TestClient(create_app(settings, engine), base_url="http://gateway.local") as c:
        yield c


def test_the_report_page_shows_the_equation_and_a_finance_user_closes_the_day(app) -> None:
    sign_in(app, "fay")
    page = app.get(f"/app/finance/day/{DAY}")
    assert page.status_code == 200
    html = page.text
    assert "The equation" in html and "MD24AG000225100013104168" in html
    assert "nothing blocks the close" in html and f"Close {DAY}" in html
    closed = app.post(
        f"/app/finance/day/{DAY}/close", data={"_csrf_token": csrf_of(html)}, follow_redirects=True
    )
    assert "frozen snapshot sha256" in closed.text and f"Day {DAY} is closed" in closed.text
    xlsx = app.get(f"/app/finance/day/{DAY}/report/xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    orders = app.get("/app/finance/orders")
    made = app.post(
        "/app/finance/orders",
        data={"day": str(DAY), "_csrf_token": csrf_of(orders.text)},
        follow_redirects=True,
    )
    assert "pain001_remittance_20261120_1.xml" in made.text
    download = app.get("/app/finance/orders/1/file")
    assert download.status_code == 200 and b"pain.001.001.03" in download.content
    charts = app.get("/app/finance/charts")
    assert charts.status_code == 200 and charts.text.count("<svg") == 3


def test_a_viewer_reads_the_report_but_cannot_close_or_download_orders(app) -> None:
    sign_in(app, "vic")
    html = app.get(f"/app/finance/day/{DAY}").text
    assert "The equation" in html and f"Close {DAY}" not in html
    refused = app.post(
        f"/app/finance/day/{DAY}/close", data={"_csrf_token": csrf_of(html)}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert app.get("/app/finance/orders/1/file").status_code == 403


def test_a_close_without_the_csrf_token_is_refused(app) -> None:
    sign_in(app, "sam")
    assert app.post(f"/app/finance/day/{DAY}/close", data={}).status_code == 403
