"""The accountants' workspace in a real headless Chromium against a real `gateway serve`.

Each test gets a fresh database with the workspace kit's queue (five items, oldest first:
NAME_ONLY, NO_REFERENCE, CHECK_DIGIT_FAILED, ACCOUNT_CLOSED, MULTIPLE_ACCOUNTS) and people:
ana (accountant), sam and sue (supervisors), vic (viewer).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from gateway.web.render import account, money
from schemas import tables as t
from tests.browser.serve import gateway_serve, signed_in, workspace_db
from tests.workspace.kit import A1, A4

pytestmark = pytest.mark.browser
TOKEN_JS = "() => JSON.parse(document.body.getAttribute('hx-headers'))['x-csrftoken']"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    engine, ids, env = workspace_db(tmp_path)
    with engine.begin() as conn:  # a second supervisor: nobody approves their own request
        sam = conn.execute(t.users.select().where(t.users.c.username == "sam")).one()
        conn.execute(
            insert(t.users),
            [
                {
                    **sam._asdict(),
                    "id": None,
                    "username": "sue",
                    "display_name": "Sue",
                    "created_at": datetime.now(UTC),
                }
            ],
        )
    engine.dispose()
    with gateway_serve(env) as base:
        yield base, ids


def rows(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("tr[data-item]").evaluate_all("rs => rs.map(r => r.dataset.item)")


def current(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("() => document.querySelector('tr.current')?.dataset.item ?? null")


def test_login_and_filter_the_queue(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    page = signed_in(browser, base, "ana")
    assert len(rows(page)) == 5
    page.fill("input.search", "Соколов")  # Cyrillic finds the Latin-written payer too
    only(page, ids["NAME_ONLY"])
    assert "q=" in page.url
    page.fill("input.search", "")
    page.select_option("select[name=reason]", "ACCOUNT_CLOSED")
    only(page, ids["ACCOUNT_CLOSED"])


def only(page, item: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until the table shows exactly ``item`` (htmx swaps may still be in flight)."""
    page.wait_for_function(
        "id => { const r = [...document.querySelectorAll('tr[data-item]')];"
        " return r.length === 1 && r[0].dataset.item === String(id); }",
        arg=item,
    )
    page.wait_for_timeout(500)  # a request scheduled by the typing may still land
    assert rows(page) == [str(item)]


def test_open_assign_leaves_the_queue_and_an_approved_undo_brings_it_back(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    item = ids["CHECK_DIGIT_FAILED"]
    ana = signed_in(browser, base, "ana")
    ana.click(f"tr[data-item='{item}'] a.open")
    ana.wait_for_url(f"**/app/items/{item}")
    assert "fails its check digit" in ana.inner_text("main")
    ana.click(f"tr[data-account='{A1}'] button.assign")
    ana.wait_for_url("**/app/queue")
    assert "assign" in ana.inner_text("#flashes").lower()
    assert str(item) not in rows(ana)

    sam = signed_in(browser, base, "sam")
    sam.goto(f"{base}/app/items/{item}")
    sam.fill("form[action$='/undo'] input[name=reason]", "wrong account, payer called")
    sam.click("form[action$='/undo'] button")
    sam.wait_for_url("**/app/queue")
    assert "waits for a supervisor" in sam.inner_text("#flashes")

    sue = signed_in(browser, base, "sue")
    sue.goto(f"{base}/app/approvals")
    asked = sue.inner_text("tr[data-approval] td.words")
    undone = f"the assignment of {money(38000)} MDL to account {account(A1)} (Ion Popescu)"
    assert f"Undo {undone}" in asked
    assert "Reason: wrong account, payer called" in asked
    sue.click("tr[data-approval] button.approve")
    sue.wait_for_url("**/app/approvals")
    sue.goto(f"{base}/app/queue")
    assert str(item) in rows(sue)  # back in the queue, with its history
    sue.goto(f"{base}/app/items/{item}")
    history = sue.inner_text("ol.history")
    assert "ana" in history and "sam" in history


def test_two_people_on_one_item_one_gets_the_conflict(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    item = ids["ACCOUNT_CLOSED"]
    ana, sam = signed_in(browser, base, "ana"), signed_in(browser, base, "sam")
    for page in (ana, sam):
        page.goto(f"{base}/app/items/{item}")
    ana.click(f"tr[data-account='{A4}'] button.assign")
    ana.wait_for_url("**/app/queue")
    sam.click(f"tr[data-account='{A4}'] button.assign")
    sam.wait_for_load_state()
    assert sam.locator("#action-error").is_visible(), sam.content()[:600]
    assert "resolved" in sam.inner_text("#item-state")  # the fresh state is shown


def test_a_form_without_its_csrf_token_is_refused(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    item = ids["CHECK_DIGIT_FAILED"]
    ana = signed_in(browser, base, "ana")
    ana.goto(f"{base}/app/items/{item}")
    form = f"tr[data-account='{A1}'] form"
    ana.eval_on_selector(form, "f => f.querySelector('[name=_csrf_token]').remove()")
    ana.click(f"{form} button")
    ana.wait_for_load_state()
    assert "CSRF" in ana.inner_text("main")
    ana.goto(f"{base}/app/queue")
    assert str(item) in rows(ana)  # nothing happened


def test_a_viewer_cannot_act(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    vic = signed_in(browser, base, "vic")
    item = ids["CHECK_DIGIT_FAILED"]
    vic.goto(f"{base}/app/items/{item}")
    assert vic.locator("button.assign").count() == 0
    status = vic.evaluate(
        """async ([url, token]) => (await fetch(url, {method: 'POST',
             headers: {'x-csrftoken': token, 'content-type': 'application/x-www-form-urlencoded'},
             body: 'account_no=' + encodeURIComponent('x')})).status""",
        [
            f"/app/items/{item}/assign",
            vic.evaluate(
                "() => JSON.parse(document.body.getAttribute('hx-headers'))['x-csrftoken']"
            ),
        ],
    )
    assert status == 403
    vic.goto(f"{base}/app/queue")
    vic.keyboard.press("a")  # the shortcut does nothing for a viewer
    vic.wait_for_timeout(300)
    assert len(rows(vic)) == 5


def test_keyboard_flow_keeps_the_place(world, browser) -> None:  # type: ignore[no-untyped-def]
    base, ids = world
    ana = signed_in(browser, base, "ana")
    order = rows(ana)
    assert current(ana) == order[0]
    ana.keyboard.press("j")
    ana.keyboard.press("j")
    ana.keyboard.press("k")
    assert current(ana) == order[1]
    ana.keyboard.press("k")
    assert current(ana) == order[0] == str(ids["NAME_ONLY"])
    ana.keyboard.press("a")  # accept the best candidate (A2, the exact open total)
    ana.wait_for_function(f"() => !document.querySelector(\"tr[data-item='{order[0]}']\")")
    assert current(ana) == order[1]  # the next item has the focus
    ana.keyboard.press("j")
    assert current(ana) == order[2]
    ana.keyboard.press("Enter")
    ana.wait_for_url(f"**/app/items/{order[2]}")
    ana.go_back()
    ana.wait_for_url("**/app/queue")
    assert current(ana) == order[2]  # back from the item: the same place
