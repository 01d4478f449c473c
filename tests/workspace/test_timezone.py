"""The billing centre's time zone is ``Settings.timezone``, passed down: an app configured with
another zone counts ages, shows "today" and books corrections on that zone's calendar day.

The app's tests run it in a zone whose date differs from the default's at the moment of the
test, so a zone still hard-coded anywhere on the way shows up as a wrong day; the report and
the terminal feed are checked at fixed moments near midnight.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update

from connectors.formats.terminal import parse_page
from fixtures.writers.terminal import TerminalTxn, write_terminal_page
from gateway.app import create_app
from gateway.services.ingest import ingest_bytes
from gateway.services.report import load_inputs
from gateway.settings import Settings
from reconciliation.model import CITY_TIMEZONE
from reconciliation.service import business_today
from schemas.tables import allocations, payments, review_items
from tests.workspace.kit import A1, DAY, sign_in
from tests.workspace.test_item import _form


def other_zone() -> str:
    """A zone whose today is not the default zone's today. UTC+14 is a day ahead of Chisinau
    from Chisinau's noon (13:00 in summer), UTC-12 a day behind it until 14:00 (15:00): one of
    the two differs at any moment."""
    home = business_today(CITY_TIMEZONE)
    return next(z for z in ("Pacific/Kiritimati", "Etc/GMT+12") if business_today(z) != home)


@pytest.fixture
def zone() -> str:
    return other_zone()


@pytest.fixture
def zoned(settings: Settings, engine: Engine, queue_ids, zone: str) -> Iterator[TestClient]:
    app = create_app(settings.with_(timezone=zone), engine)
    with TestClient(app, base_url="http://gateway.local") as c:
        yield c


def test_ages_and_today_follow_the_configured_zone(zoned: TestClient, queue_ids, zone) -> None:
    today = business_today(zone)
    assert today != business_today(CITY_TIMEZONE)
    sign_in(zoned, "ana")
    assert f"today is {today}" in zoned.get("/app/ageing").text
    age = (today - date(2026, 11, 19)).days  # the CHECK_DIGIT_FAILED payment's business day
    item = zoned.get(f"/app/items/{queue_ids['CHECK_DIGIT_FAILED']}").text
    assert f"Waiting {age} days since the business day." in item
    queue = zoned.get("/app/queue").text
    assert f"<b>{age} d</b>" in queue


def test_a_correction_is_booked_on_the_zone_s_day(
    zoned: TestClient, engine: Engine, queue_ids, zone: str
) -> None:
    sign_in(zoned, "ana")
    item = queue_ids["CHECK_DIGIT_FAILED"]
    html = zoned.get(f"/app/items/{item}").text
    fields = {**_form(html, f"/app/items/{item}/assign"), "account_no": A1}
    assert zoned.post(f"/app/items/{item}/assign", data=fields).status_code == 200
    with engine.connect() as conn:
        payment_id = conn.execute(
            select(review_items.c.payment_id).where(review_items.c.id == item)
        ).scalar_one()
        days = set(
            conn.execute(
                select(allocations.c.business_day).where(allocations.c.payment_id == payment_id)
            ).scalars()
        )
    assert days == {business_today(zone)}


def test_the_report_counts_a_resolution_on_the_zone_s_day(engine: Engine, queue_ids) -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 01:30 on the 21st in Chisinau
    with engine.begin() as conn:
        conn.execute(
            update(review_items)
            .where(review_items.c.id == queue_ids["NAME_ONLY"])
            .values(state="resolved_assigned", resolved_at=late, resolved_by="ana")
        )
    with engine.connect() as conn:
        in_utc = load_inputs(conn, DAY, timezone="UTC").review.resolved
        at_home = load_inputs(conn, DAY).review.resolved
        next_day = load_inputs(conn, DAY + timedelta(days=1)).review.resolved
    assert in_utc == (1, 12000) and at_home == (0, 0) and next_day == (1, 12000)


def test_a_terminal_payment_is_dated_by_the_zone(engine: Engine, settings: Settings) -> None:
    paid = datetime(2026, 11, 14, 23, 30, tzinfo=UTC)  # the 15th in Chisinau
    page = write_terminal_page([TerminalTxn("T1", A1, 12345, paid)], operator="QIWI")
    result = ingest_bytes(engine, settings.with_(timezone="UTC"), page, filename="t.json")
    assert result.status == "applied", result.describe()
    with engine.connect() as conn:
        booked = conn.execute(select(payments.c.booking_date, payments.c.business_day)).one()
    assert booked == (date(2026, 11, 14), date(2026, 11, 14))
    (home,) = parse_page(page)
    assert home.booking_date == date(2026, 11, 15)
