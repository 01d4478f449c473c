"""Review items: why a payment was not placed automatically, and how accountants resolve it.

Pure: an action takes an item and returns the item in its new state together with the
allocation rows to post (computed with ``allocate``); the service persists both and records
who did it. Every action checks the current state first, so a double click or two accountants
racing on one item get a clear ``ReviewStateError`` instead of money posted twice.

States: ``open`` -> ``resolved_assigned`` | ``resolved_split`` | ``marked_return`` |
``marked_not_utility``. Resolved states are final; undoing a resolution is a reversal of the
rows it posted (``allocate.reverse``), never an edit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy, allocate
from reconciliation.model import AllocationRow, Candidate, Decision, OpenLine, ServiceAmount


class ReasonCode(StrEnum):
    """Stable reason codes for the accountants' queue, each with a one-line description."""

    description: str

    def __new__(cls, value: str, description: str) -> ReasonCode:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.description = description
        return obj

    NO_REFERENCE = "NO_REFERENCE", "The payment names no account, invoice or reference."
    CHECK_DIGIT_FAILED = "CHECK_DIGIT_FAILED", "The account number fails its check digit."
    CHECK_DIGIT_MISSING = (
        "CHECK_DIGIT_MISSING",
        "A seven-digit account base without its check digit.",
    )
    ACCOUNT_NOT_FOUND = (
        "ACCOUNT_NOT_FOUND",
        "The account number is valid but no such account exists.",
    )
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED", "The account exists but is closed."
    MULTIPLE_ACCOUNTS = (
        "MULTIPLE_ACCOUNTS",
        "Several accounts are named and the amount does not settle them exactly.",
    )
    UNCONFIRMED_NUMBER = (
        "UNCONFIRMED_NUMBER",
        "A bare number that is a valid account, but nothing else confirms it.",
    )
    NAME_ONLY = "NAME_ONLY", "Only a name or address is given; candidates are suggestions."
    CONFLICTING_REFERENCES = (
        "CONFLICTING_REFERENCES",
        "The references given point to different accounts.",
    )
    UNKNOWN_INVOICE = "UNKNOWN_INVOICE", "The invoice number is not in the register."
    UNKNOWN_PAYMENT_REF = "UNKNOWN_PAYMENT_REF", "The RF payment reference is invalid or unknown."
    AMOUNT_MISMATCH_INVOICE = (
        "AMOUNT_MISMATCH_INVOICE",
        "An invoice number from free text, but the amount differs from it.",
    )
    UNKNOWN_SERVICE = "UNKNOWN_SERVICE", "A named service is not billed on the account."
    SERVICE_SUM_MISMATCH = (
        "SERVICE_SUM_MISMATCH",
        "The service amounts do not add up to the payment.",
    )
    LIKELY_DUPLICATE = (
        "LIKELY_DUPLICATE",
        "Looks like a payment already received (same reference, or same account and amount).",
    )
    REVERSAL_UNMATCHED = "REVERSAL_UNMATCHED", "A reversal whose original payment was not found."
    NOT_A_PAYMENT = "NOT_A_PAYMENT", "A debit, a non-MDL amount or a non-positive amount."


class ReviewState(StrEnum):
    OPEN = "open"
    RESOLVED_ASSIGNED = "resolved_assigned"
    RESOLVED_SPLIT = "resolved_split"
    MARKED_RETURN = "marked_return"
    MARKED_NOT_UTILITY = "marked_not_utility"


class ReviewStateError(RuntimeError):
    """An action that the item's current state does not allow."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One payment waiting for an accountant, with the evidence the matcher had."""

    payment_id: str
    amount: int  # bani
    reason: ReasonCode
    candidates: tuple[Candidate, ...] = ()
    evidence: str = ""
    state: ReviewState = ReviewState.OPEN
    resolved_by: str | None = None
    note: str = ""


def item_from_decision(payment_id: str, amount: int, decision: Decision) -> ReviewItem:
    """The review item for a matcher decision with status ``review``."""
    if decision.status != "review":
        raise ValueError(f"decision is {decision.status!r}, not review")
    return ReviewItem(
        payment_id=payment_id,
        amount=amount,
        reason=ReasonCode(decision.reason),
        candidates=decision.candidates,
        evidence=decision.evidence,
    )


def _require_open(item: ReviewItem, action: str) -> None:
    if item.state is not ReviewState.OPEN:
        raise ReviewStateError(
            f"cannot {action} review item for payment {item.payment_id}: it is already "
            f"{item.state.value}" + (f" (by {item.resolved_by})" if item.resolved_by else "")
        )


def assign(
    item: ReviewItem,
    account_no: str,
    lines: Sequence[OpenLine],
    *,
    actor: str,
    services: Sequence[ServiceAmount] = (),
    policy: AllocationPolicy = DEFAULT_POLICY,
    note: str = "",
) -> tuple[ReviewItem, list[AllocationRow]]:
    """Place the whole payment on one account chosen by the accountant."""
    _require_open(item, "assign")
    rows = allocate(account_no, item.amount, lines, services=services, policy=policy)
    return _resolved(item, ReviewState.RESOLVED_ASSIGNED, actor, note), rows


def split_between(
    item: ReviewItem,
    shares: Mapping[str, int],
    lines: Sequence[OpenLine],
    *,
    actor: str,
    policy: AllocationPolicy = DEFAULT_POLICY,
    note: str = "",
) -> tuple[ReviewItem, list[AllocationRow]]:
    """Split the payment across accounts; ``shares`` (account -> bani) must add up exactly."""
    _require_open(item, "split")
    if sum(shares.values()) != item.amount or any(v <= 0 for v in shares.values()):
        raise ValueError(
            f"shares must be positive and add up to {item.amount}, got {sum(shares.values())}"
        )
    if len(shares) < 2:
        raise ValueError("a split needs at least two accounts; use assign for one")
    rows: list[AllocationRow] = []
    for account_no, share in shares.items():
        rows.extend(allocate(account_no, share, lines, policy=policy))
    return _resolved(item, ReviewState.RESOLVED_SPLIT, actor, note), rows


def mark_return(item: ReviewItem, *, actor: str, note: str = "") -> ReviewItem:
    """The money goes back to the payer; nothing is allocated."""
    _require_open(item, "mark for return")
    return _resolved(item, ReviewState.MARKED_RETURN, actor, note)


def mark_not_utility(item: ReviewItem, *, actor: str, note: str = "") -> ReviewItem:
    """Not a utility payment (e.g. a misdirected transfer); nothing is allocated."""
    _require_open(item, "mark as not a utility payment")
    return _resolved(item, ReviewState.MARKED_NOT_UTILITY, actor, note)


def _resolved(item: ReviewItem, state: ReviewState, actor: str, note: str) -> ReviewItem:
    if not actor:
        raise ValueError("a resolution needs the accountant who made it")
    return replace(item, state=state, resolved_by=actor, note=note)
