"""The workspace JSON API over HTTP: session and CSRF, amounts as text, conflicts with the
fresh state, resubmissions acting once, four-eyes, and the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace

from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.settings import Settings
from tests.workspace.kit import A1, A2, sign_in

API = "/app/api/review"


def _post(client: TestClient, path: str, body: dict, **headers: str):
    token = client.cookies.get("plata_csrf") or ""
    return client.post(API + path, json=body, headers={"x-csrftoken": token, **headers})


def test_list_assign_replay_and_conflict(client: TestClient, queue_ids: dict[str, int]) -> None:
    sign_in(client, "ana")
    items = client.get(f"{API}/items").json()
    item = queue_ids["CHECK_DIGIT_FAILED"]
    found = next(i for i in items if i["id"] == item)
    assert found["amount"] == "380.00" and found["version"] == 1
    body = {"account_no": A1, "expected_version": 1, "form_token": "f-1"}
    done = _post(client, f"/items/{item}/assign", body)
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["replayed"]) == ("resolved_assigned", False)
    again = _post(client, f"/items/{item}/assign", body)
    assert again.status_code == 200 and again.json()["replayed"] is True
    stale = _post(client, f"/items/{item}/assign", {"account_no": A1, "expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["item"]["state"] == "resolved_assigned"
    assert stale.json()["item"]["resolved_by"] == "ana"
    shown = client.get(f"{API}/items/{item}").json()
    assert [h["action"] for h in shown["history"]] == ["assign"]


def test_csrf_and_roles_are_enforced(client: TestClient, queue_ids: dict[str, int]) -> None:
    item = queue_ids["NAME_ONLY"]
    assert client.get(f"{API}/items").status_code == 401
    sign_in(client, "vic")
    no_csrf = client.post(f"{API}/items/{item}/assign", json={"account_no": A2})
    assert no_csrf.status_code == 403
    viewer = _post(client, f"/items/{item}/assign", {"account_no": A2})
    assert viewer.status_code == 403 and viewer.json()["code"] == "FORBIDDEN"


def test_split_with_text_amounts_then_undo_approved_by_a_supervisor(
    client: TestClient, queue_ids: dict[str, int]
) -> None:
    item = queue_ids["MULTIPLE_ACCOUNTS"]
    sign_in(client, "ana")
    wrong = [{"account_no": A1, "amount": "100.00"}, {"account_no": A2, "amount": "1"}]
    bad = _post(client, f"/items/{item}/split", {"shares": wrong})
    assert bad.status_code == 400 and "add up to" in bad.json()["detail"]
    shares = [{"account_no": A1, "amount": "380.00"}, {"account_no": A2, "amount": "120.00"}]
    assert _post(client, f"/items/{item}/split", {"shares": shares}).status_code == 200
    undo = _post(client, f"/items/{item}/undo", {"reason": "wrong split"}).json()
    assert undo["outcome"] == "awaiting_approval"
    own = _post(client, f"/approvals/{undo['approval_id']}/approve", {})
    assert own.status_code == 403  # an accountant approves nothing
    client.get("/app/logout")
    client.cookies.clear()
    sign_in(client, "sam")
    pending = client.get(f"{API}/approvals").json()
    assert [p["id"] for p in pending] == [undo["approval_id"]] and pending[0]["amount"] == "500.00"
    done = _post(client, f"/approvals/{undo['approval_id']}/approve", {"note": "ok"})
    assert done.status_code == 200 and done.json()["state"] == "open"


def test_bulk_preview_and_openapi(client: TestClient, queue_ids: dict[str, int]) -> None:
    sign_in(client, "ana")
    prev = _post(client, "/bulk/preview", {"rule": "unique_correction_exact"}).json()
    assert prev["eligible"] == 1 and prev["total"] == "380.00"
    assert prev["proposals"][0]["account_no"] == A1
    schema = client.get("/schema/openapi.json").json()
    assert f"{API}/items/{{item_id}}/assign" in schema["paths"]


def test_duplicate_to_credit_and_comment(client: TestClient, queue_ids: dict[str, int]) -> None:
    sign_in(client, "ana")
    first = queue_ids["CHECK_DIGIT_FAILED"]
    _post(client, f"/items/{first}/assign", {"account_no": A1})
    original = client.get(f"{API}/items/{first}").json()["item"]["payment_id"]
    item = queue_ids["NAME_ONLY"]
    assert _post(client, f"/items/{item}/comments", {"text": "paid twice?"}).status_code == 200
    body = {"of_payment_id": original, "outcome": "credit", "reason": "paid twice"}
    done = _post(client, f"/items/{item}/duplicate", body)
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["payment_status"]) == (
        "resolved_duplicate",
        "allocated",
    )


def test_every_action_gets_the_token_header_version_and_app_settings(
    settings: Settings, engine: Engine, queue_ids: dict[str, int]
) -> None:
    """What ``_act``/``_resolve`` pass for each endpoint: the ``Idempotency-Key`` header as the
    form token, the body's ``expected_version``, and the app's four-eyes amount (here 100.00)."""
    low = replace(settings, four_eyes_above=10_000)
    with TestClient(create_app(low, engine), base_url="http://gateway.local") as client:
        sign_in(client, "ana")
        item = queue_ids["NAME_ONLY"]
        key = {"Idempotency-Key": "k-1"}
        first = _post(client, f"/items/{item}/comments", {"text": "called the payer"}, **key)
        again = _post(client, f"/items/{item}/comments", {"text": "called the payer"}, **key)
        assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
        stale = _post(client, f"/items/{item}/claim", {"expected_version": 99})
        assert stale.status_code == 409 and stale.json()["item"]["id"] == item
        claimed = _post(client, f"/items/{item}/claim", {"expected_version": 1})
        assert claimed.status_code == 200, claimed.text
        big = queue_ids["CHECK_DIGIT_FAILED"]  # 380.00, above the app's 100.00
        waits = _post(client, f"/items/{big}/assign", {"account_no": A1})
        assert waits.json()["outcome"] == "awaiting_approval", waits.text


def test_return_to_payer_passes_every_body_field(
    client: TestClient, queue_ids: dict[str, int]
) -> None:
    sign_in(client, "ana")
    item = queue_ids["NAME_ONLY"]
    body = {"iban": "MD24AG000225100013104168", "name": "Iurii Socolov", "reason": "not ours"}
    done = _post(client, f"/items/{item}/return", {**body, "expected_version": 1})
    assert done.status_code == 200, done.text
    shown = client.get(f"{API}/items/{item}").json()
    assert (shown["item"]["state"], shown["item"]["note"]) == ("marked_return", "not ours")
    payload = shown["history"][-1]["payload"]
    assert {k: payload[k] for k in body} == body
