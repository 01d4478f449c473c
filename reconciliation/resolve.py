"""How an accountant resolves a review item: pure actions from a snapshot to a ``Resolution``.

Each action checks the item's state first (``review.require_actionable``), computes the money
with ``allocate`` and answers with everything the service must write in one transaction: the
item's next state, the payment's next status, the allocation rows to post, compensating rows
(each pointing at the row it compensates), a refund order for finance, and the audit detail.
Nothing here updates money in place: an undo is the originals negated, a credit is an advance
row, a return is a refund line that finance pays out.

Decisions worth knowing:

- An account that does not exist or is closed is refused as a target (a closed flat's money
  belongs on the new account of the flat, or back with the payer).
- A split is two or more shares (account, amount, optionally one service); the shares must be
  positive and add up to the payment exactly. Two shares on one account see each other (the
  second is placed on what the first left open).
- "Onto chosen invoices": the money is placed on those invoices' lines only, by the policy;
  what they do not take is advance credit on the account.
- A duplicate is linked to the payment it repeats; it goes back to the payer (a refund) or
  becomes advance credit on the original's account (the next invoice takes it).
- "Not a utility payment" rejects the payment (status ``rejected``, reason ``NOT_UTILITY``):
  nothing is allocated; finance decides where such money goes.
- Every undo, every unmatch and every resolution above the four-eyes amount waits for a
  supervisor other than the person who asked (``needs_approval``, ``check_approver``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reconciliation.allocate import (
    DEFAULT_POLICY,
    AllocationError,
    AllocationPolicy,
    advance_row,
    allocate,
    open_after,
)
from reconciliation.model import AllocationRow, Candidate, OpenLine, PaymentStatus, ServiceAmount
from reconciliation.money import format_amount
from reconciliation.references import normalize_iban
from reconciliation.review import (
    ActionKind,
    ReasonCode,
    ReviewError,
    ReviewItem,
    ReviewState,
    ReviewStateError,
    moved,
    require_actionable,
    require_actor,
)

NOT_UTILITY_REASON = "NOT_UTILITY"
#: Default four-eyes amount: a resolution above 10,000.00 MDL waits for a supervisor.
FOUR_EYES_ABOVE = 1_000_000


class DuplicateOutcome(StrEnum):
    RETURN = "return"  # the money goes back to the payer
    CREDIT = "credit"  # advance credit on the original payment's account


@dataclass(frozen=True, slots=True)
class Share:
    """One part of a split: bani to an account, optionally to one of its services."""

    account_no: str
    amount: int
    service_code: str | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    """A payment to send back to its payer; finance turns it into a pain.001 line."""

    amount: int
    iban: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Original:
    """The payment a duplicate repeats, as the service loaded it."""

    payment_id: int
    account_no: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """Everything one action changes; the service writes it all or nothing."""

    action: ActionKind
    item: ReviewItem
    status: PaymentStatus
    account_no: str | None = None
    reason: str | None = None  # the payment's reason after the action
    rows: tuple[AllocationRow, ...] = ()
    compensations: tuple[tuple[int, AllocationRow], ...] = ()  # (allocation id, -row)
    refund: Refund | None = None
    cancel_refund: bool = False
    detail: Mapping[str, object] = field(default_factory=dict)


def _check_accounts(known: Mapping[str, str], account_nos: Sequence[str]) -> None:
    """``known`` maps account numbers to their status ('open' | 'closed')."""
    for acc in account_nos:
        status = known.get(acc)
        if status is None:
            raise ReviewError(f"no account {acc}")
        if status != "open":
            raise ReviewError(f"account {acc} is closed; choose the flat's open account")


def _rows_detail(rows: Sequence[AllocationRow]) -> list[dict[str, object]]:
    return [
        {
            "account_no": r.account_no,
            "invoice_no": r.invoice_no,
            "service_code": r.service_code,
            "amount": format_amount(r.amount),
        }
        for r in rows
    ]


def assign(
    item: ReviewItem,
    account_no: str,
    lines: Sequence[OpenLine],
    known: Mapping[str, str],
    *,
    actor: str,
    services: Sequence[ServiceAmount] = (),
    invoices: Sequence[str] = (),
    policy: AllocationPolicy = DEFAULT_POLICY,
    note: str = "",
) -> Resolution:
    """The whole payment on one account: by the policy, by named services, or onto chosen
    invoices (what they do not take is advance credit)."""
    require_actionable(item, actor, "assign")
    _check_accounts(known, [account_no])
    own = [ln for ln in lines if ln.account_no == account_no]
    if invoices:
        missing = set(invoices) - {ln.invoice_no for ln in own}
        if missing:
            raise ReviewError(f"account {account_no} has no invoice {sorted(missing)[0]}")
        own = [ln for ln in own if ln.invoice_no in set(invoices)]
    try:
        rows = allocate(account_no, item.amount, own, services=services, policy=policy)
    except AllocationError as exc:
        raise ReviewError(str(exc)) from exc
    detail: dict[str, object] = {
        "account_no": account_no,
        "invoices": list(invoices),
        "rows": _rows_detail(rows),
    }
    if services:
        detail["services"] = {s.service_code: format_amount(s.amount) for s in services}
    return Resolution(
        ActionKind.ASSIGN,
        moved(item, ReviewState.RESOLVED_ASSIGNED, actor, note),
        PaymentStatus.ALLOCATED,
        account_no=account_no,
        rows=tuple(rows),
        detail=detail,
    )


def split(
    item: ReviewItem,
    shares: Sequence[Share],
    lines: Sequence[OpenLine],
    known: Mapping[str, str],
    *,
    actor: str,
    policy: AllocationPolicy = DEFAULT_POLICY,
    note: str = "",
) -> Resolution:
    """Across several accounts and services; the shares must add up to the payment exactly."""
    require_actionable(item, actor, "split")
    if len(shares) < 2:
        raise ReviewError("a split needs at least two shares; assign places one account")
    if any(s.amount <= 0 for s in shares):
        raise ReviewError("every share must be a positive amount")
    total = sum(s.amount for s in shares)
    if total != item.amount:
        raise ReviewError(
            f"the shares add up to {format_amount(total)}, the payment is "
            f"{format_amount(item.amount)}"
        )
    _check_accounts(known, [s.account_no for s in shares])
    rows: list[AllocationRow] = []
    current = list(lines)
    for s in shares:
        services = (ServiceAmount(s.service_code, s.amount),) if s.service_code else ()
        try:
            part = allocate(s.account_no, s.amount, current, services=services, policy=policy)
        except AllocationError as exc:
            raise ReviewError(str(exc)) from exc
        current = open_after(current, part)
        rows.extend(part)
    accounts = {s.account_no for s in shares}
    return Resolution(
        ActionKind.SPLIT,
        moved(item, ReviewState.RESOLVED_SPLIT, actor, note),
        PaymentStatus.ALLOCATED,
        account_no=next(iter(accounts)) if len(accounts) == 1 else None,
        rows=tuple(rows),
        detail={
            "shares": [
                {
                    "account_no": s.account_no,
                    "amount": format_amount(s.amount),
                    "service_code": s.service_code,
                }
                for s in shares
            ],
            "rows": _rows_detail(rows),
        },
    )


def _refund(item: ReviewItem, iban: str, name: str, reason: str) -> Refund:
    valid = normalize_iban(iban)
    if valid is None:
        raise ReviewError(f"{iban!r} is not a valid IBAN (check digits or length)")
    name, reason = (name or "").strip(), (reason or "").strip()
    if not name:
        raise ReviewError("a return needs the payer's name")
    if not reason:
        raise ReviewError("a return needs a reason (it goes on the refund transfer)")
    return Refund(item.amount, valid, name[:140], reason[:140])


def return_to_payer(
    item: ReviewItem, *, actor: str, iban: str, name: str, reason: str
) -> Resolution:
    """The money goes back to the payer's IBAN: a refund line for finance's payment orders."""
    require_actionable(item, actor, "return")
    refund = _refund(item, iban, name, reason)
    return Resolution(
        ActionKind.RETURN,
        moved(item, ReviewState.MARKED_RETURN, actor, refund.reason),
        PaymentStatus.RETURNED,
        reason=item.reason.value,
        refund=refund,
        detail={"iban": refund.iban, "name": refund.name, "reason": refund.reason},
    )


def not_utility(item: ReviewItem, *, actor: str, reason: str) -> Resolution:
    """Not a utility payment (a misdirected transfer): rejected, nothing allocated."""
    require_actionable(item, actor, "mark as not a utility payment")
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("say why it is not a utility payment")
    return Resolution(
        ActionKind.NOT_UTILITY,
        moved(item, ReviewState.MARKED_NOT_UTILITY, actor, reason),
        PaymentStatus.REJECTED,
        reason=NOT_UTILITY_REASON,
        detail={"reason": reason},
    )


def duplicate_of(
    item: ReviewItem,
    original: Original,
    outcome: DuplicateOutcome,
    known: Mapping[str, str],
    *,
    actor: str,
    iban: str = "",
    name: str = "",
    reason: str = "",
) -> Resolution:
    """A repeat of ``original``: linked to it, then returned or kept as credit on its account."""
    require_actionable(item, actor, "mark as a duplicate")
    if original.payment_id == item.payment_id:
        raise ReviewError("a payment cannot duplicate itself")
    if original.status in (PaymentStatus.REVERSED, PaymentStatus.REJECTED):
        raise ReviewError(f"payment {original.payment_id} is {original.status}; nothing to repeat")
    detail: dict[str, object] = {"of_payment_id": original.payment_id, "outcome": outcome.value}
    state = moved(item, ReviewState.RESOLVED_DUPLICATE, actor, reason)
    if outcome is DuplicateOutcome.RETURN:
        refund = _refund(item, iban, name, reason or "duplicate payment")
        detail.update(iban=refund.iban, name=refund.name)
        return Resolution(
            ActionKind.DUPLICATE,
            state,
            PaymentStatus.RETURNED,
            reason=ReasonCode.LIKELY_DUPLICATE.value,
            refund=refund,
            detail=detail,
        )
    if not original.account_no:
        raise ReviewError(
            f"payment {original.payment_id} is on no single account; assign the credit instead"
        )
    _check_accounts(known, [original.account_no])
    row = advance_row(original.account_no, item.amount)
    detail["account_no"] = original.account_no
    return Resolution(
        ActionKind.DUPLICATE,
        state,
        PaymentStatus.ALLOCATED,
        account_no=original.account_no,
        reason=ReasonCode.LIKELY_DUPLICATE.value,
        rows=(row,),
        detail=detail,
    )


def _compensate(
    posted: Sequence[tuple[int, AllocationRow]],
) -> tuple[tuple[int, AllocationRow], ...]:
    return tuple((aid, row._replace(amount=-row.amount)) for aid, row in posted if row.amount)


def undo(
    item: ReviewItem,
    posted: Sequence[tuple[int, AllocationRow]],
    *,
    actor: str,
    reason: str,
    refund_ordered: bool = False,
) -> Resolution:
    """A resolution taken back: every row it posted compensated, the item open again.

    ``posted`` are the payment's allocation rows not compensated yet, with their ids. A
    refund already in a payment order cannot be undone here (the money has left).
    """
    require_actor(actor)
    if not item.state.resolved:
        raise ReviewStateError(
            f"item for payment {item.payment_id} is {item.state.value}: nothing to undo"
        )
    if refund_ordered:
        raise ReviewStateError(
            f"the refund of payment {item.payment_id} is already in a payment order"
        )
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("say why the resolution is undone")
    comp = _compensate(posted)
    return Resolution(
        ActionKind.UNDO,
        moved(item, ReviewState.OPEN, actor, reason),
        PaymentStatus.REVIEW,
        reason=item.reason.value,
        compensations=comp,
        cancel_refund=item.state in (ReviewState.MARKED_RETURN, ReviewState.RESOLVED_DUPLICATE),
        detail={"undone": item.state.value, "reason": reason, "rows": len(comp)},
    )


def unmatch(
    payment_id: int,
    amount: int,
    status: str,
    posted: Sequence[tuple[int, AllocationRow]],
    *,
    actor: str,
    reason: str,
) -> Resolution:
    """An automatic allocation taken back (the matcher was wrong): compensating rows, and a
    new open item whose candidates are the accounts it had been placed on."""
    require_actor(actor)
    if status != PaymentStatus.ALLOCATED:
        raise ReviewStateError(
            f"payment {payment_id} is {status}, not allocated: nothing to unmatch"
        )
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("say why the automatic placement is wrong")
    if not posted:
        raise ReviewStateError(f"payment {payment_id} has no allocation left to take back")
    accounts = list(dict.fromkeys(r.account_no for _, r in posted))
    item = ReviewItem(
        payment_id,
        amount,
        ReasonCode.UNMATCHED,
        tuple(Candidate(a, 0.0, "placed here automatically, then taken back") for a in accounts),
        evidence=reason,
        note=reason,
    )
    comp = _compensate(posted)
    return Resolution(
        ActionKind.UNMATCH,
        item,
        PaymentStatus.REVIEW,
        reason=ReasonCode.UNMATCHED.value,
        compensations=comp,
        detail={"reason": reason, "accounts": accounts, "rows": len(comp)},
    )


def needs_approval(action: ActionKind, amount: int, threshold: int = FOUR_EYES_ABOVE) -> bool:
    """Four-eyes: every undo and unmatch, and a resolution above ``threshold`` bani."""
    if action in (ActionKind.UNDO, ActionKind.UNMATCH):
        return True
    return action.resolves and amount > threshold


def check_approver(requested_by: str, approver: str) -> None:
    require_actor(approver)
    if requested_by == approver:
        raise ReviewError("nobody approves their own request; another supervisor must")
