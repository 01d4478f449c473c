"""An automatically allocated payment in the workspace: reached from its account's page,
shown with its rows, unmatched with four-eyes (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlalchemy import Engine, select

from schemas.tables import allocations, approvals, payments, review_items
from tests.workspace.kit import A1, add_allocated_payment, sign_in


def _form(html: str, action: str) -> dict[str, str]:
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'name="(_csrf_token|form_token|version)" value="([^"]*)"', form))


def _approve(client: TestClient, approval_id: int) -> None:
    page = client.get("/app/approvals").text
    start = page.index(f'action="/app/approvals/{approval_id}"')
    form = page[start : page.index("</form>", start)]
    data = dict(re.findall(r'name="(_csrf_token|form_token|decision)" value="([^"]*)"', form))
    assert data["decision"] == "approve"
    r = client.post(f"/app/approvals/{approval_id}", data=data, follow_redirects=False)
    assert r.status_code == 303


def test_unmatch_from_the_account_page_waits_for_a_supervisor_then_queues_the_payment(
    client: TestClient, engine: Engine
) -> None:
    pid = add_allocated_payment(engine)
    sign_in(client, "ana")
    account = client.get(f"/app/accounts/{A1}").text
    assert f'href="/app/payments/{pid}"' in account and "automatically" in account
    page = client.get(f"/app/payments/{pid}").text
    assert 'id="unmatch"' in page and "150.00" in page
    form = {**_form(page, f"/app/payments/{pid}/unmatch"), "reason": "the flat next door"}
    assert form["version"] == "2"
    r = client.post(f"/app/payments/{pid}/unmatch", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/payments/{pid}"
    again = client.post(f"/app/payments/{pid}/unmatch", data=form, follow_redirects=False)
    assert again.status_code == 303  # the same token: asked once
    with engine.connect() as conn:
        (approval_id,) = conn.execute(
            select(approvals.c.id).where(approvals.c.payment_id == pid)
        ).scalars()
    waiting = client.get(f"/app/payments/{pid}").text
    assert 'id="unmatch-pending"' in waiting and 'id="unmatch"' not in waiting

    sign_in(client, "sam")
    _approve(client, approval_id)
    with engine.connect() as conn:
        status, reason = conn.execute(
            select(payments.c.status, payments.c.reason).where(payments.c.id == pid)
        ).one()
        item = conn.execute(
            select(review_items.c.id, review_items.c.reason, review_items.c.state).where(
                review_items.c.payment_id == pid
            )
        ).one()
        held = conn.execute(
            select(allocations.c.amount).where(allocations.c.payment_id == pid)
        ).scalars()
        assert sum(held) == 0
    assert (status, reason) == ("review", "UNMATCHED")
    assert (item.reason, item.state) == ("UNMATCHED", "open")
    assert f"/app/items/{item.id}" in client.get("/app/queue").text
    done = client.get(f"/app/payments/{pid}").text
    assert f'href="/app/items/{item.id}"' in done and 'id="unmatch-why-not"' in done


def test_a_stale_unmatch_form_is_a_conflict_and_a_viewer_cannot_unmatch(
    client: TestClient, engine: Engine
) -> None:
    pid = add_allocated_payment(engine)
    sign_in(client, "ana")
    page = client.get(f"/app/payments/{pid}").text
    form = {**_form(page, f"/app/payments/{pid}/unmatch"), "reason": "wrong flat"}
    stale = client.post(
        f"/app/payments/{pid}/unmatch", data={**form, "version": "1"}, follow_redirects=False
    )
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    empty = client.post(
        f"/app/payments/{pid}/unmatch", data={**form, "reason": " "}, follow_redirects=False
    )
    assert empty.status_code == 400 and "say why" in empty.text
    sign_in(client, "vic")
    viewer_page = client.get(f"/app/payments/{pid}").text
    assert 'id="unmatch"' not in viewer_page
    forged = client.post(f"/app/payments/{pid}/unmatch", data=form, follow_redirects=False)
    assert forged.status_code == 403
    with engine.connect() as conn:
        assert conn.execute(select(approvals.c.id)).all() == []
    assert client.get("/app/payments/999999").status_code == 404
