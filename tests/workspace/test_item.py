"""The item page: the entry in full, the candidates' evidence, the account book, actions."""

from __future__ import annotations

import re

from litestar.datastructures import FormMultiDict
from litestar.testing import TestClient
from sqlalchemy import Engine, select

from gateway.services.review_item import item_page
from gateway.web.render import form_token, form_version, money
from schemas.tables import review_items
from tests.workspace.kit import A1, A2, A5, csrf_of, sign_in


def _form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    chunk = html[start : html.index("</form>", start)]
    return dict(re.findall(r'name="(_csrf_token|version|form_token)" value="([^"]*)"', chunk))


def test_evidence_for_each_candidate(engine: Engine, queue_ids) -> None:
    page = item_page(engine, queue_ids["CHECK_DIGIT_FAILED"])
    (best,) = page.candidates
    assert best.account_no == A1 and best.check_digit_fix
    assert best.name_score == 100 and best.open_total == 38000 and best.amount_equals_open
    assert page.chosen is not None and page.chosen.open_total == 38000
    assert {ln.service_code for ln in page.chosen.lines} == {"APARECE", "CANAL", "DESERV", "INCALZ"}
    socolov = item_page(engine, queue_ids["NAME_ONLY"]).candidates[0]
    assert socolov.account_no == A2 and socolov.name_score >= 85  # Cyrillic holder, Latin payer
    assert socolov.address_score >= 60 and not socolov.check_digit_fix
    picked = item_page(engine, queue_ids["NO_REFERENCE"], chosen=f"{A5[:7]}-{A5[7]}")
    assert [c.account_no for c in picked.candidates] == [A5]
    assert picked.chosen is not None and picked.chosen.account_no == A5


def test_item_page_and_raw_file(client: TestClient, queue_ids, settings) -> None:
    sign_in(client, "vic")
    r = client.get(f"/app/items/{queue_ids['CHECK_DIGIT_FAILED']}")
    assert r.status_code == 200
    assert (
        "The account number fails its check digit." in r.text and "camt053_20261120.xml" in r.text
    )
    assert "Assign" not in r.text  # a viewer sees no action
    assert client.get("/app/items/999999").status_code == 404
    missing = client.get("/app/files/1")
    assert missing.status_code == 404 and "raw store" in missing.text


def test_assign_leaves_the_queue_and_a_resubmission_acts_once(
    client: TestClient, engine: Engine, queue_ids
) -> None:
    sign_in(client, "ana")
    item = queue_ids["CHECK_DIGIT_FAILED"]
    html = client.get(f"/app/items/{item}").text
    fields = {**_form(html, f"/app/items/{item}/assign"), "account_no": A1}
    r = client.post(f"/app/items/{item}/assign", data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/queue"
    again = client.post(f"/app/items/{item}/assign", data=fields, follow_redirects=False)
    assert again.status_code == 303  # the same form token: the first answer, nothing new
    queue = client.get("/app/queue").text
    assert f'data-item="{item}"' not in queue and "again: nothing changed" in queue
    with engine.connect() as conn:
        state = conn.execute(select(review_items.c.state).where(review_items.c.id == item))
        assert state.scalar_one() == "resolved_assigned"


def test_a_stale_form_is_a_conflict_showing_the_fresh_state(client: TestClient, queue_ids) -> None:
    sign_in(client, "ana")
    item = queue_ids["NAME_ONLY"]
    html = client.get(f"/app/items/{item}").text
    claim = _form(html, f"/app/items/{item}/claim")
    assert client.post(f"/app/items/{item}/claim", data=claim).status_code == 200
    stale = {**_form(html, f"/app/items/{item}/assign"), "account_no": A2}
    r = client.post(f"/app/items/{item}/assign", data=stale)
    assert r.status_code == 409 and 'id="action-error"' in r.text
    assert "claimed by <b>ana</b>" in r.text


def test_a_viewer_cannot_act_and_a_form_without_csrf_is_refused(
    client: TestClient, queue_ids
) -> None:
    item = queue_ids["CHECK_DIGIT_FAILED"]
    sign_in(client, "vic")
    token = csrf_of(client.get("/app/queue").text)
    r = client.post(f"/app/items/{item}/assign", data={"account_no": A1, "_csrf_token": token})
    assert r.status_code == 403 and "accountant" in r.text
    sign_in(client, "ana")
    r = client.post(f"/app/items/{item}/assign", data={"account_no": A1})
    assert r.status_code == 403 and "CSRF" in r.text


def test_accept_from_the_queue_with_htmx(client: TestClient, queue_ids) -> None:
    sign_in(client, "ana")
    item = queue_ids["CHECK_DIGIT_FAILED"]
    token = csrf_of(client.get("/app/queue").text)
    r = client.post(f"/app/items/{item}/accept",
                    headers={"HX-Request": "true", "x-csrftoken": token})  # fmt: skip
    assert r.status_code == 200 and "flash-success" in r.text
    assert "plata:resolved" in r.headers["hx-trigger"]
    none = client.post(f"/app/items/{queue_ids['NO_REFERENCE']}/accept",
                       headers={"HX-Request": "true", "x-csrftoken": token})  # fmt: skip
    assert none.status_code == 400 and "no candidate" in none.text and "<html" not in none.text


def test_account_search_ageing_rules_and_approvals_pages(client: TestClient, queue_ids) -> None:
    sign_in(client, "sam")
    hits = client.get(f"/app/accounts?q=socolov&item={queue_ids['NO_REFERENCE']}")
    assert hits.status_code == 200 and "Юрий Соколов" in hits.text and "use for item" in hits.text
    by_number = client.get(f"/app/accounts?q={A1[:4]} {A1[4:7]}-{A1[7]}")
    assert "Ion Popescu" in by_number.text
    assert "Apă rece" in client.get(f"/app/accounts/{A1}").text
    assert client.get("/app/accounts/12345678").status_code == 404
    ageing = client.get("/app/ageing")
    assert ageing.status_code == 200 and "Oldest item" in ageing.text
    assert client.get("/app/rules").status_code == 200
    assert client.get("/app/approvals").status_code == 200


def test_bulk_preview_request_and_approval(client: TestClient, engine: Engine, queue_ids) -> None:
    sign_in(client, "ana")
    preview = client.get("/app/bulk?preview=1&rule=unique_correction_exact")
    assert preview.status_code == 200 and 'id="eligible">1<' in preview.text
    fields = dict(re.findall(r'name="(_csrf_token|form_token|rule)" value="([^"]*)"',
                             preview.text[preview.text.index('action="/app/bulk"'):]))  # fmt: skip
    r = client.post("/app/bulk", data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/approvals"
    sign_in(client, "sam")
    approvals = client.get("/app/approvals").text
    rule = "the unique check-digit correction whose open total equals the amount"
    assert f"Bulk: 1 item, {money(38000)} MDL, each to {rule}" in approvals
    start = approvals.index('action="/app/approvals/')
    form = approvals[start : approvals.index("</form>", start)]
    action = re.search(r'action="([^"]+)"', form).group(1)
    data = dict(re.findall(r'name="(_csrf_token|form_token|decision)" value="([^"]*)"', form))
    assert data["decision"] == "approve"
    assert client.post(action, data=data, follow_redirects=False).status_code == 303
    with engine.connect() as conn:
        state = conn.execute(
            select(review_items.c.state).where(review_items.c.id == queue_ids["CHECK_DIGIT_FAILED"])
        ).scalar_one()
    assert state == "resolved_assigned"


def test_each_resolution_form_reaches_its_action_with_its_fields(
    client: TestClient, engine: Engine, queue_ids
) -> None:
    """The table of page actions (``_resolve`` with each form's fields): split, return,
    not-utility, a duplicate without its payment number, and undo, each on its own item."""
    sign_in(client, "ana")

    def post(queued: str, action: str, **fields: str):  # type: ignore[no-untyped-def]
        item = queue_ids[queued]
        html = client.get(f"/app/items/{item}").text
        data = {**_form(html, f"/app/items/{item}/{action}"), **fields}
        return client.post(f"/app/items/{item}/{action}", data=data, follow_redirects=False)

    def state(queued: str) -> tuple[str, str | None]:
        which = review_items.c.id == queue_ids[queued]
        with engine.connect() as conn:
            row = conn.execute(select(review_items.c.state, review_items.c.note).where(which)).one()
        return row.state, row.note

    split = post("MULTIPLE_ACCOUNTS", "split", account_1=A1, amount_1="380,00",
                 account_2=A5, amount_2="120.00", note="two flats")  # fmt: skip
    assert split.status_code == 303, split.text
    assert state("MULTIPLE_ACCOUNTS") == ("resolved_split", "two flats")
    iban = "MD24AG000225100013104168"
    gone = post("NAME_ONLY", "return", iban=iban, name="Iurii Socolov", reason="not ours")
    assert gone.status_code == 303 and state("NAME_ONLY") == ("marked_return", "not ours")
    junk = post("NO_REFERENCE", "not-utility", reason="a salary")
    assert junk.status_code == 303 and state("NO_REFERENCE") == ("marked_not_utility", "a salary")
    unnamed = post("ACCOUNT_CLOSED", "duplicate", outcome="credit")
    assert unnamed.status_code == 400 and "name the payment" in unnamed.text
    back = post("MULTIPLE_ACCOUNTS", "undo", reason="wrong flats")
    assert back.status_code == 303 and back.headers["location"] == "/app/queue"
    assert state("MULTIPLE_ACCOUNTS")[0] == "resolved_split"  # an undo waits for a supervisor


def test_the_hidden_fields_of_an_action_form_are_read_once_for_every_page() -> None:
    shown = FormMultiDict({"version": " 7 ", "form_token": "t-1"})
    assert (form_version(shown), form_token(shown)) == (7, "t-1")
    for blank in (FormMultiDict({}), FormMultiDict({"version": "x", "form_token": ""})):
        assert (form_version(blank), form_token(blank)) == (None, None)
