"""Placing one account's money on its open invoice lines, exact to the ban.

Pure functions over plain lists: the caller (the batch service, the bank API) loads the
account's ``OpenLine``s and writes the returned ``AllocationRow``s. Nothing is updated in place:
a reversal or the consumption of advance credit is expressed as more rows, so the open amount
of a line is always ``line.open_amount - sum(rows on that line)`` (see ``open_after``) and the
advance credit of an account is the sum of its rows with ``line_id is None``.

Invariants every function here keeps (and the property tests check):

* the rows of ``allocate`` sum exactly to the payment;
* no line receives more than its open amount; only the advance row (``line_id is None``)
  takes what is left over;
* ``reverse(rows)`` sums to minus the original and reopens exactly what was paid;
* ``apply_advance`` rows sum to zero: they move credit from the advance onto lines.

Order of payment for a sum without services (``AllocationPolicy``):

1. provider priority groups first, in the configured order (providers not named form the
   last group); with ``priority_within_period`` the groups apply inside each period instead;
2. oldest period first;
3. within one period (and group), in proportion to the amounts due, with a largest-remainder
   split so the parts add up exactly. Each part is at most the line's open amount.

Named services (API, registry): each service amount lands only on that service's lines,
oldest period first. If it exceeds what is open on the service, the excess becomes advance
credit *earmarked for that service* (the row carries the service and provider code), because
the payer said whose money it is: an accountant expects the water company to keep the water
payment, not to see it spread over heating. A service with no line on the account at all is
refused with ``UnknownServiceError`` (reason ``UNKNOWN_SERVICE`` for the caller).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

from reconciliation.model import AllocationRow, OpenLine, ServiceAmount
from reconciliation.money import split


class AllocationError(ValueError):
    """A payment that cannot be placed as asked; ``code`` is the review reason code."""

    code = "ALLOCATION_ERROR"


class UnknownServiceError(AllocationError):
    """A named service that the account is not billed for (no line of that service)."""

    code = "UNKNOWN_SERVICE"

    def __init__(self, account_no: str, service_code: str) -> None:
        super().__init__(f"account {account_no} has no line for service {service_code!r}")
        self.account_no = account_no
        self.service_code = service_code


class UnknownInvoiceError(AllocationError):
    """A named invoice that is not among the account's lines."""

    code = "UNKNOWN_INVOICE"

    def __init__(self, account_no: str, invoice_no: str) -> None:
        super().__init__(f"account {account_no} has no invoice {invoice_no!r}")
        self.account_no = account_no
        self.invoice_no = invoice_no


class ServiceSumMismatchError(AllocationError):
    """Named service amounts that do not add up to the payment."""

    code = "SERVICE_SUM_MISMATCH"


@dataclass(frozen=True, slots=True)
class AllocationPolicy:
    """How a sum without services is spread; configurable per provider group.

    ``provider_priority`` lists groups of provider codes paid before everything else, in order
    (e.g. ``(("TERMO",), ("APA", "IMGFL"))``). By default a priority group is served across all
    its periods (oldest first) before the next group; with ``priority_within_period`` the oldest
    period is settled first and the groups only order the lines inside a period.
    """

    provider_priority: tuple[tuple[str, ...], ...] = ()
    priority_within_period: bool = False

    def group_of(self, provider_code: str) -> int:
        """Rank of a provider's group; providers not named rank last."""
        for rank, group in enumerate(self.provider_priority):
            if provider_code in group:
                return rank
        return len(self.provider_priority)


DEFAULT_POLICY = AllocationPolicy()


def allocate(
    account_no: str,
    amount: int,
    lines: Sequence[OpenLine],
    *,
    services: Sequence[ServiceAmount] = (),
    invoice_no: str | None = None,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> list[AllocationRow]:
    """Place ``amount`` bani (> 0) on the account's open ``lines``; rows sum to ``amount``.

    ``lines`` may contain other accounts' lines and lines with nothing open; both are ignored,
    so a caller can pass a snapshot without filtering. ``invoice_no`` restricts the placement
    to that invoice's lines (the excess becomes general advance credit). ``services`` places
    each named amount only on that service's lines (see the module doc for the excess).
    Raises ``AllocationError`` subclasses for requests that cannot be honoured as stated.
    """
    if not isinstance(amount, int) or amount <= 0:
        raise AllocationError(f"payment amount must be positive bani, got {amount!r}")
    if invoice_no is None and not services:  # the common case: one pass over the lines
        rows = _fill(amount, _ordered_buckets(lines, policy, account_no))
        return _with_advance(account_no, amount, rows, None, None)
    own = [ln for ln in lines if ln.account_no == account_no]
    if invoice_no is not None:
        own = [ln for ln in own if ln.invoice_no == invoice_no]
        if not own:
            raise UnknownInvoiceError(account_no, invoice_no)
    if services:
        return _allocate_services(account_no, amount, own, services)
    rows = _fill(amount, _ordered_buckets(own, policy))
    return _with_advance(account_no, amount, rows, None, None)


def _allocate_services(
    account_no: str, amount: int, own: Sequence[OpenLine], services: Sequence[ServiceAmount]
) -> list[AllocationRow]:
    """Each named service amount on that service's lines only, the excess earmarked."""
    if sum(s.amount for s in services) != amount:
        raise ServiceSumMismatchError(
            f"service amounts add up to {sum(s.amount for s in services)}, payment is {amount}"
        )
    by_service: dict[str, list[OpenLine]] = defaultdict(list)
    for ln in own:
        by_service[ln.service_code].append(ln)
    # A service named twice is one amount: placing each separately would pay its lines twice.
    wanted: dict[str, int] = defaultdict(int)
    for sa in services:
        if sa.amount <= 0:
            raise AllocationError(f"service {sa.service_code} amount must be positive")
        wanted[sa.service_code] += sa.amount
    rows: list[AllocationRow] = []
    for code, svc_amount in wanted.items():
        svc_lines = by_service.get(code)
        if not svc_lines:
            raise UnknownServiceError(account_no, code)
        placed = _fill(svc_amount, _ordered_buckets(svc_lines, DEFAULT_POLICY))
        provider = _single_provider(svc_lines)
        rows.extend(_with_advance(account_no, svc_amount, placed, code, provider))
    return rows


def _single_provider(lines: Sequence[OpenLine]) -> str | None:
    """The provider of a service's lines when they agree (they always should), else None."""
    providers = {ln.provider_code for ln in lines}
    return providers.pop() if len(providers) == 1 else None


def _ordered_buckets(
    lines: Iterable[OpenLine], policy: AllocationPolicy, account_no: str | None = None
) -> list[list[OpenLine]]:
    """Lines with something open (of ``account_no`` only, when given), grouped into buckets
    paid one after another.

    Inside a bucket lines keep line-id order, so the split's tie-break (earlier part first) does
    not depend on the order the caller loaded them in: the same day always rebuilds the same.
    """
    buckets: dict[object, list[OpenLine]] = {}
    ranked = bool(policy.provider_priority)
    within = policy.priority_within_period
    for ln in lines:
        if ln.open_amount <= 0 or (account_no is not None and ln.account_no != account_no):
            continue
        key: object = ln.period
        if ranked:
            rank = policy.group_of(ln.provider_code)
            key = (ln.period, rank) if within else (rank, ln.period)
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [ln]
        else:
            bucket.append(ln)
    # typed object, but one run's keys are all periods or all pairs of one shape: they sort
    ordered = [buckets[k] for k in sorted(buckets)]  # type: ignore[type-var]
    for bucket in ordered:
        if len(bucket) > 1:
            bucket.sort(key=_line_id)
    return ordered


_line_id = attrgetter("line_id")


def _fill(amount: int, buckets: Sequence[Sequence[OpenLine]]) -> list[AllocationRow]:
    """Pay whole buckets while the money lasts, then split the rest proportionally."""
    rows: list[AllocationRow] = []
    remaining = amount
    for bucket in buckets:
        if remaining <= 0:
            break
        weights = [ln.open_amount for ln in bucket]
        due = sum(weights)
        if remaining >= due:
            parts = weights
        elif len(weights) == 1:
            parts = [remaining]
        else:
            # Largest remainder never exceeds a weight when total < sum(weights).
            parts = split(remaining, weights)
        # One row per line paid, built in a comprehension with tuple.__new__ (the fields in
        # AllocationRow order; ln[4:6] is service and provider code): this runs for every
        # allocated line, a million times a day.
        rows += [
            _new(AllocationRow, (ln.account_no, ln.line_id, ln.invoice_no, *ln[4:6], part))
            for ln, part in zip(bucket, parts, strict=True)
            if part
        ]
        remaining -= min(remaining, due)
    return rows


_new = tuple.__new__


def _with_advance(
    account_no: str,
    amount: int,
    rows: list[AllocationRow],
    service_code: str | None,
    provider_code: str | None,
) -> list[AllocationRow]:
    """Append the advance-credit row for whatever the lines did not take."""
    excess = amount - sum(r.amount for r in rows)
    if excess:
        rows.append(advance_row(account_no, excess, service_code, provider_code))
    return rows


def advance_row(
    account_no: str,
    amount: int,
    service_code: str | None = None,
    provider_code: str | None = None,
) -> AllocationRow:
    """A row of advance credit (``line_id`` None), general or earmarked for one service."""
    return AllocationRow(account_no, None, None, service_code, provider_code, amount)


def reverse(rows: Iterable[AllocationRow]) -> list[AllocationRow]:
    """Compensating rows for a reversal or undo: the same rows, negated, same order.

    Posting them reopens exactly what the original rows paid and removes the advance credit
    they created; the originals stay in the history untouched.
    """
    return [r._replace(amount=-r.amount) for r in rows if r.amount]


def apply_advance(
    account_no: str,
    credit: int,
    lines: Sequence[OpenLine],
    *,
    service_code: str | None = None,
    provider_code: str | None = None,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> list[AllocationRow]:
    """Consume up to ``credit`` bani of advance on the account's (new) open lines.

    Returns positive rows on the lines plus one negative advance row for what was consumed,
    so the rows sum to zero and the remaining credit is still readable from the rows.
    Earmarked credit (``service_code`` given) is only used on that service's lines.
    Returns ``[]`` when there is no credit or nothing open to consume it.
    """
    if credit <= 0:
        return []
    own = [ln for ln in lines if ln.account_no == account_no]
    if service_code is not None:
        own = [ln for ln in own if ln.service_code == service_code]
    placed = _fill(credit, _ordered_buckets(own, policy))
    used = sum(r.amount for r in placed)
    if not used:
        return []
    return [*placed, advance_row(account_no, -used, service_code, provider_code)]


def open_after(lines: Iterable[OpenLine], rows: Iterable[AllocationRow]) -> list[OpenLine]:
    """The lines with their open amounts reduced by the rows posted on them (new objects)."""
    paid: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.line_id is not None:
            paid[r.line_id] += r.amount
    if not paid:
        return list(lines)
    return [_reduced(ln, paid[ln.line_id]) if ln.line_id in paid else ln for ln in lines]


def _reduced(ln: OpenLine, amount: int) -> OpenLine:
    # not _replace: this runs for every placed payment of a batch
    return _new(OpenLine, (*ln[:6], ln.open_amount - amount))


def advance_balances(rows: Iterable[AllocationRow]) -> dict[tuple[str, str | None], int]:
    """Advance credit per (account, earmarked service or None) from a history of rows."""
    out: dict[tuple[str, str | None], int] = defaultdict(int)
    for r in rows:
        if r.line_id is None:
            out[(r.account_no, r.service_code)] += r.amount
    return {k: v for k, v in out.items() if v}


def totals_by_line(rows: Iterable[AllocationRow]) -> Mapping[int, int]:
    """Sum of rows per line id (advance rows excluded); handy for bulk updates and checks."""
    out: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.line_id is not None:
            out[r.line_id] += r.amount
    return dict(out)
