"""Review items: why a payment was not placed automatically, and the item's state machine.

Pure: the accountants' actions (``reconciliation.resolve``) take a ``ReviewItem`` snapshot and
answer with the item's next state plus the rows to post; the service
(``gateway.services.review``) persists both in one transaction that re-checks the item's
``version``, and records who did what in the audit trail. Every action checks the state it
starts from here (``require_actionable``), so a double click or two accountants racing on one
item get a clear ``ReviewStateError`` instead of money posted twice.

States::

    open --assign/split/duplicate/return/not-utility--> resolved_* | marked_*
    open --a resolution above the four-eyes amount--> awaiting_approval
    awaiting_approval --approved--> resolved_* | marked_*      --rejected--> open
    resolved_* | marked_* --undo (approved by a supervisor)--> open

A resolved item is final until undone; undoing posts compensating rows (``allocate.reverse``)
and never edits what was posted. Claims are not states: an item claimed by one person can be
acted on by nobody else until they release it or someone takes it over explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from reconciliation.model import Candidate, Decision


class ReasonCode(StrEnum):
    """Stable reason codes for the accountants' queue, each with a one-line description."""

    description: str

    def __new__(cls, value: str, description: str = "") -> ReasonCode:
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
    FIELD_TOO_LONG = (
        "FIELD_TOO_LONG",
        "A reference, name or text was longer than can be stored; it was cut (the raw file "
        "keeps it whole).",
    )
    IMPLAUSIBLE_DATE = (
        "IMPLAUSIBLE_DATE",
        "The booking or value date is outside the plausible window; counted on the day of "
        "the ingest.",
    )
    IMPLAUSIBLE_CREDIT = (
        "IMPLAUSIBLE_CREDIT",
        "The payment would leave more advance credit on the account than is plausible.",
    )
    SETTLEMENT_PENDING = (
        "SETTLEMENT_PENDING",
        "A collector's lump sum waiting for the registry it settles.",
    )
    SETTLEMENT = "SETTLEMENT", "A collector's lump sum that settled its registry."
    RESOLVED = "RESOLVED", "Placed by an accountant's resolution."
    UNMATCHED = (
        "UNMATCHED",
        "An automatic placement an accountant took back (the matcher was wrong).",
    )


class ReviewState(StrEnum):
    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    RESOLVED_ASSIGNED = "resolved_assigned"
    RESOLVED_SPLIT = "resolved_split"
    RESOLVED_DUPLICATE = "resolved_duplicate"
    MARKED_RETURN = "marked_return"
    MARKED_NOT_UTILITY = "marked_not_utility"
    RESOLVED_SETTLED = "resolved_settled"  # a lump sum whose registry settled: no person
    #: written by an ingest whose file is still being applied: not in the queue, no action
    #: (not even a comment) until the file's last transaction opens it, so a file found bad
    #: late is undone without meeting a person's work
    HELD = "held"

    @property
    def resolved(self) -> bool:
        """A final state that only an undo leaves."""
        return self not in (ReviewState.OPEN, ReviewState.AWAITING_APPROVAL, ReviewState.HELD)


class ActionKind(StrEnum):
    """What a row of the audit trail (``review_actions.action``) records."""

    ASSIGN = "assign"
    SPLIT = "split"
    DUPLICATE = "duplicate"
    RETURN = "return"
    NOT_UTILITY = "not_utility"
    COMMENT = "comment"
    CLAIM = "claim"
    RELEASE = "release"
    UNDO = "undo"
    UNMATCH = "unmatch"  # an automatic allocation taken back into the queue
    REQUEST_APPROVAL = "request_approval"
    APPROVE = "approve"
    REJECT = "reject"
    BULK = "bulk"  # a set of items accepted by a rule (four-eyes, applied in batches)

    @property
    def resolves(self) -> bool:
        return self in RESOLUTIONS


RESOLUTIONS = frozenset(
    {
        ActionKind.ASSIGN,
        ActionKind.SPLIT,
        ActionKind.DUPLICATE,
        ActionKind.RETURN,
        ActionKind.NOT_UTILITY,
    }
)


class ReviewError(ValueError):
    """An action that cannot be done as asked (bad amounts, unknown account); never a bug."""


class ReviewStateError(ReviewError):
    """An action that the item's current state (or its claim) does not allow."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One payment waiting for an accountant, with the evidence the matcher had.

    ``version`` grows with every change of state or claim; the service only writes a change
    when the version it read is still the stored one (optimistic concurrency).
    """

    payment_id: int | str
    amount: int  # bani
    reason: ReasonCode
    candidates: tuple[Candidate, ...] = ()
    evidence: str = ""
    state: ReviewState = ReviewState.OPEN
    resolved_by: str | None = None
    note: str = ""
    version: int = 1
    claimed_by: str | None = None


def item_from_decision(payment_id: int | str, amount: int, decision: Decision) -> ReviewItem:
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


def require_actor(actor: str) -> None:
    if not actor:
        raise ReviewError("an action needs the person who does it")


def require_claim(item: ReviewItem, actor: str, action: str) -> None:
    """Someone else's claim blocks every action but an explicit take-over."""
    require_actor(actor)
    if item.claimed_by and item.claimed_by != actor:
        raise ReviewStateError(
            f"cannot {action} item for payment {item.payment_id}: {item.claimed_by} is working "
            "on it (take it over first)"
        )


def require_not_held(item: ReviewItem, action: str) -> None:
    """An item of a file still being applied takes no action yet (``ReviewState.HELD``)."""
    if item.state is ReviewState.HELD:
        raise ReviewStateError(
            f"cannot {action} item for payment {item.payment_id}: its file is still being "
            "applied; it opens when the file is applied"
        )


def require_actionable(item: ReviewItem, actor: str, action: str) -> None:
    """Open, and not claimed by someone else."""
    require_not_held(item, action)
    if item.state is not ReviewState.OPEN:
        by = f" (by {item.resolved_by})" if item.resolved_by else ""
        raise ReviewStateError(
            f"cannot {action} item for payment {item.payment_id}: it is already "
            f"{item.state.value}{by}"
        )
    require_claim(item, actor, action)


def claim(item: ReviewItem, actor: str, *, take_over: bool = False) -> ReviewItem:
    """Show that ``actor`` is working the item; taking it from someone else must be explicit."""
    require_actor(actor)
    require_not_held(item, "claim")
    if item.state.resolved:
        raise ReviewStateError(f"item for payment {item.payment_id} is {item.state.value}")
    if item.claimed_by == actor:
        return item
    if item.claimed_by and not take_over:
        raise ReviewStateError(
            f"item for payment {item.payment_id} is claimed by {item.claimed_by}; "
            "take it over explicitly"
        )
    return replace(item, claimed_by=actor, version=item.version + 1)


def release(item: ReviewItem, actor: str) -> ReviewItem:
    """Give the item back to the queue; only its holder releases it (others take it over)."""
    require_actor(actor)
    if item.claimed_by is None:
        return item
    if item.claimed_by != actor:
        raise ReviewStateError(
            f"item for payment {item.payment_id} is claimed by {item.claimed_by}, not {actor}"
        )
    return replace(item, claimed_by=None, version=item.version + 1)


def comment(item: ReviewItem, actor: str, text: str) -> str:
    """A note in the item's history, in any state but held; returns the cleaned text."""
    require_actor(actor)
    require_not_held(item, "comment on")
    text = (text or "").strip()
    if not text:
        raise ReviewError("a comment needs some text")
    if len(text) > 2000:
        raise ReviewError("a comment is at most 2000 characters")
    return text


def moved(item: ReviewItem, state: ReviewState, actor: str, note: str = "") -> ReviewItem:
    """The item in ``state``, one version on; a resolution releases the claim."""
    require_actor(actor)
    resolved_by = actor if state.resolved else None
    return replace(
        item,
        state=state,
        resolved_by=resolved_by,
        note=note,
        version=item.version + 1,
        claimed_by=None if state.resolved else item.claimed_by,
    )
