"""GET /pf/v1/accounts/{account_no}: open invoices, lines, total, masking, error codes."""

from __future__ import annotations

import pytest

from gateway.logging import add_request_id, request_id
from gateway.services.accounts import mask_address, mask_name
from tests.api.conftest import A1, A2, A3, A4, UNKNOWN_ACCOUNT, Api, payment


def test_lookup_lists_open_invoices_with_lines_and_total(bank: Api) -> None:
    r = bank.get(f"/pf/v1/accounts/{A1}")
    assert r.status_code == 200
    body = r.json()
    assert body["account_no"] == A1
    assert body["total_due"] == "380.00"
    assert [i["invoice_no"] for i in body["invoices"]] == ["AV1", "TE1"]
    av1 = body["invoices"][0]
    assert av1["amount_due"] == "180.00"
    assert av1["payment_ref"] == "RF00AV1"
    assert av1["lines"][0] == {
        "service_code": "APARECE",
        "service_name": "Apă rece",
        "provider_code": "APACANAL",
        "provider_name": "Apă-Canal Chișinău",
        "amount_due": "100.00",
    }


def test_payer_is_masked(bank: Api) -> None:
    body = bank.get(f"/pf/v1/accounts/{A1}").json()
    assert body["payer"] == "I*** P***"
    assert body["address"] == "str. Ismail 86, sect. Centru"
    assert "Popescu" not in str(body) and "ap. 12" not in str(body)
    assert bank.get(f"/pf/v1/accounts/{A2}").json()["payer"] == "Ю*** С***"


def test_display_form_of_the_account_is_accepted(bank: Api) -> None:
    r = bank.get(f"/pf/v1/accounts/{A1[:-1]}-{A1[-1]}")
    assert r.status_code == 200 and r.json()["account_no"] == A1


def test_what_is_paid_is_no_longer_due(bank: Api) -> None:
    assert bank.post(payment("P1", A2, "40.00")).status_code == 201
    body = bank.get(f"/pf/v1/accounts/{A2}").json()
    assert [i["invoice_no"] for i in body["invoices"]] == ["AV2"]  # the old debt is settled
    assert body["total_due"] == "80.00"


def test_account_with_nothing_invoiced(bank: Api) -> None:
    body = bank.get(f"/pf/v1/accounts/{A4}").json()
    assert body["invoices"] == [] and body["total_due"] == "0.00"


@pytest.mark.parametrize(
    ("account", "status", "code", "result"),
    [
        (UNKNOWN_ACCOUNT, 404, "ACCOUNT_NOT_FOUND", 5),
        (A3, 422, "ACCOUNT_CLOSED", 79),
        ("12345678", 400, "INVALID_ACCOUNT", 4),  # fails its check digit
        ("abc", 400, "INVALID_ACCOUNT", 4),
    ],
)
def test_lookup_refusals(bank: Api, account: str, status: int, code: str, result: int) -> None:
    r = bank.get(f"/pf/v1/accounts/{account}")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["code"], body["result"], body["status"]) == (code, result, status)


def test_lookup_needs_a_key(bank: Api) -> None:
    r = bank.client.get(f"/pf/v1/accounts/{A1}")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("str. Ismail 86, ap. 12, sect. Centru", "str. Ismail 86, sect. Centru"),
        ("bd. Dacia 20/1, apt 3", "bd. Dacia 20/1"),
        ("ул. Исмаил 86, кв. 5", "ул. Исмаил 86"),
        ("str. Ismail 86", "str. Ismail 86"),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_mask_name() -> None:
    assert mask_name("Ion  Popescu") == "I*** P***"
    assert mask_name("Maria-Elena Rusu") == "M*** R***"


def test_every_answer_carries_a_request_id_that_log_lines_get(bank: Api) -> None:
    ids = [bank.get(f"/pf/v1/accounts/{a}").headers["x-request-id"] for a in (A1, "1")]
    assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)
    token = request_id.set(ids[0])
    try:
        assert add_request_id(None, "info", {"event": "x"})["request_id"] == ids[0]
    finally:
        request_id.reset(token)
    assert "request_id" not in add_request_id(None, "info", {"event": "x"})
