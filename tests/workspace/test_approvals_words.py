"""The approvals page says each request in words a supervisor reads: the action, the amount
as the pages write money, the accounts with their holders, the reason; never key=value."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.services import review
from gateway.services.people import Actor, Role
from gateway.services.review.structs import ReviewConfig, SharePart
from gateway.web.render import account, money
from tests.workspace.kit import A1, A2, A5, add_allocated_payment, sign_in

ANA = Actor("ana", Role.ACCOUNTANT)
SAM = Actor("sam", Role.SUPERVISOR)
ALWAYS = ReviewConfig(four_eyes_above=0)  # every resolution waits for a supervisor
IBAN = "MD24AG000225100013104168"


def test_each_request_is_said_in_words(client: TestClient, engine: Engine, queue_ids) -> None:
    review.assign(engine, ANA, queue_ids["CHECK_DIGIT_FAILED"], A1, config=ALWAYS)
    shares = [SharePart(A1, 30000), SharePart(A5, 20000)]
    review.split(engine, ANA, queue_ids["MULTIPLE_ACCOUNTS"], shares, note="as the payer wrote",
                 config=ALWAYS)  # fmt: skip
    review.return_to_payer(engine, ANA, queue_ids["NO_REFERENCE"], iban=IBAN, name="Vasile Lupu",
                           reason="no account in the text", config=ALWAYS)  # fmt: skip
    review.not_utility(engine, ANA, queue_ids["ACCOUNT_CLOSED"], reason="a rent payment",
                       config=ALWAYS)  # fmt: skip
    review.assign(engine, ANA, queue_ids["NAME_ONLY"], A2)  # below the limit: done at once
    review.undo(engine, SAM, queue_ids["NAME_ONLY"], reason="another flat")
    placed = add_allocated_payment(engine)  # 150.00 on A1 by the matcher
    review.unmatch(engine, ANA, placed, reason="the flat next door")
    sign_in(client, "sam")
    text = client.get("/app/approvals").text
    ion, turcanu = (
        f"account {account(A1)} (Ion Popescu)",
        f"account {account(A5)} (Gheorghe Țurcanu)",
    )
    assert f"Assign {money(38000)} MDL to {ion}" in text
    assert (
        f"Split {money(50000)} MDL: {money(30000)} MDL to {ion}; {money(20000)} MDL to {turcanu}."
        " Note: as the payer wrote" in text
    )
    assert (
        f"Return {money(99900)} MDL to Vasile Lupu, IBAN MD24 AG00 0225 1000 1310 4168."
        " Reason: no account in the text" in text
    )
    assert f"Mark {money(15000)} MDL as not a utility payment. Reason: a rent payment" in text
    assert (
        f"Undo the assignment of {money(12000)} MDL to account {account(A2)} (Юрий Соколов)."
        " Reason: another flat" in text
    )
    assert (
        f"Take back the automatic placement of {money(15000)} MDL on {ion}."
        " Reason: the flat next door"
        in text
        and f'href="/app/payments/{placed}"' in text
    )
    assert "account_no=" not in text and "reason=" not in text
