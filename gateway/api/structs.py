"""Request and response bodies of the bank API: msgspec Structs, never ORM rows.

Amounts are strings with two decimals ("125.50") on the wire and integer bani inside; the
structs keep them as text and ``gateway.services.payments.validate`` turns them into bani, so a
JSON number, an exponent or a third decimal becomes INVALID_AMOUNT rather than a rounded
value. Unknown fields are ignored (a bank's extra fields do not change the payment).
Responses are built by the services as plain dicts (stored and replayed byte for byte); the
structs below document their shape in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Amount = Annotated[
    str,
    Meta(
        max_length=64,
        description="MDL as a string with two decimals",
        examples=["125.50"],
    ),
]
TxnId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=35,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the agent's own transaction id: 1-35 of A-Z a-z 0-9 . _ : -",
        examples=["B2026112400001"],
    ),
]
AccountNo = Annotated[
    str,
    Meta(
        max_length=32,
        pattern=r"^\s*[0-9]{7}\s*[-/ ]?\s*[0-9]\s*$",
        description="personal account: 7 digits and a check digit",
        examples=["10099023"],
    ),
]


class ServiceAmountIn(Struct):
    service_code: Annotated[str, Meta(min_length=1, max_length=32, examples=["APARECE"])]
    amount: Amount


class PaymentIn(Struct):
    """POST /pf/v1/payments."""

    agent_txn_id: TxnId
    account_no: AccountNo
    amount: Amount
    paid_at: Annotated[
        str,
        Meta(
            max_length=40,
            description="ISO 8601 with offset",
            examples=["2026-11-24T10:15:00+02:00"],
        ),
    ]
    currency: Annotated[str, Meta(max_length=8, examples=["MDL"])] = "MDL"
    invoice_no: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    services: Annotated[list[ServiceAmountIn], Meta(max_length=50)] | None = None


class AllocationOut(Struct):
    kind: Literal["payment", "advance", "reversal"]
    invoice_no: str | None
    service_code: str | None
    provider_code: str | None
    amount: str


class PaymentOut(Struct):
    """The answer to a post (201, and the same body on a retry with 200) or a status query."""

    payment_id: int
    agent_txn_id: str
    status: Literal["allocated", "reversed"]
    account_no: str
    amount: str
    currency: str
    paid_at: str | None
    business_day: str
    allocations: list[AllocationOut]


class ReversalOut(Struct):
    payment_id: int
    agent_txn_id: str
    status: Literal["reversed"]
    business_day: str
    allocations: list[AllocationOut]


class LineOut(Struct):
    service_code: str
    service_name: str
    provider_code: str
    provider_name: str
    amount_due: str


class InvoiceOut(Struct):
    invoice_no: str
    period: str
    issued_on: str
    due_on: str
    payment_ref: str
    amount_due: str
    lines: list[LineOut]


class AccountOut(Struct):
    account_no: str
    payer: str
    address: str
    currency: str
    total_due: str
    invoices: list[InvoiceOut]


class Problem(Struct):
    """RFC 9457 problem document with our ``code`` and the OSMP ``result``."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    result: int = 300


encoder = msgspec.json.Encoder()
