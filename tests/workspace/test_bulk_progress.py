"""A bulk approval's progress on the approvals page (SQLite and PostgreSQL): the fragment
polls while the request waits to start or runs, says when a run stopped, and shows the
result (resolved / skipped) at the end; the approve button posts with htmx and lands on the
approved list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient
from sqlalchemy import Engine, select, update

from schemas.tables import approvals, review_items
from tests.workspace.kit import sign_in


def _request_bulk(client: TestClient) -> None:
    sign_in(client, "ana")
    preview = client.get("/app/bulk?preview=1&rule=unique_correction_exact").text
    fields = dict(re.findall(r'name="(_csrf_token|form_token|rule)" value="([^"]*)"',
                             preview[preview.index('action="/app/bulk"'):]))  # fmt: skip
    assert client.post("/app/bulk", data=fields, follow_redirects=False).status_code == 303


def _fragment(client: TestClient, approval_id: int) -> tuple[str, bool, str]:
    """(state, polls again, text) of the progress fragment."""
    r = client.get(f"/app/bulk/{approval_id}/progress", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    state = re.search(r'data-state="([a-z]+)"', r.text).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text)).strip()
    return state, "hx-trigger" in r.text, text


def _set(engine: Engine, approval_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(update(approvals).where(approvals.c.id == approval_id).values(**values))


def test_bulk_progress_polls_while_it_runs_and_shows_the_result(
    client: TestClient, engine: Engine, queue_ids
) -> None:
    _request_bulk(client)
    with engine.connect() as conn:
        approval_id = conn.execute(select(approvals.c.id)).scalar_one()
    sign_in(client, "sam")
    page = client.get("/app/approvals").text
    assert f'id="bulk-progress-{approval_id}"' in page and 'hx-trigger="plata:start"' in page
    assert f'data-progress="#bulk-progress-{approval_id}"' in page
    assert _fragment(client, approval_id)[:2] == ("waiting", True)

    now = datetime.now(UTC)
    midway = {"progress": 500, "total": 1200, "done": 480, "skipped": 20, "at": now.isoformat()}
    _set(engine, approval_id, status="approved", result=midway)
    state, polls, text = _fragment(client, approval_id)
    assert (state, polls) == ("running", True)
    assert "500 of 1,200 looked at · 480 resolved · 20 skipped" in text
    old = {**midway, "at": (now - timedelta(minutes=10)).isoformat()}
    _set(engine, approval_id, result=old)
    state, polls, text = _fragment(client, approval_id)
    assert (state, polls) == ("stalled", False) and "stopped after 500 of 1,200" in text
    _set(engine, approval_id, status="pending", result=None)

    page = client.get("/app/approvals").text
    start = page.index(f'hx-post="/app/approvals/{approval_id}"')
    form = page[start : page.index("</form>", start)]
    data = dict(re.findall(r'name="(_csrf_token|form_token|decision)" value="([^"]*)"', form))
    r = client.post(
        f"/app/approvals/{approval_id}", data=data,
        headers={"HX-Request": "true", "x-csrftoken": data["_csrf_token"]},
    )  # fmt: skip
    assert r.status_code == 200
    assert r.headers["hx-redirect"] == f"/app/approvals?status=approved#a{approval_id}"
    state, polls, text = _fragment(client, approval_id)
    assert (state, polls) == ("finished", False) and "1 resolved · 0 skipped" in text
    listed = client.get("/app/approvals?status=approved").text
    assert f'hx-get="/app/bulk/{approval_id}/progress" hx-trigger="load"' in listed
    with engine.connect() as conn:
        state = conn.execute(
            select(review_items.c.state).where(review_items.c.id == queue_ids["CHECK_DIGIT_FAILED"])
        ).scalar_one()
    assert state == "resolved_assigned"
    assert client.get("/app/bulk/999/progress").status_code == 404
