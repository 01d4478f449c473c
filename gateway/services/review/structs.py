"""What the review service takes and answers: msgspec structs, apart from the ORM rows.

Amounts are integer bani inside; the pages, the JSON API and the CLI parse and format them
with ``reconciliation.money`` at their edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec

from gateway.errors import Conflict
from gateway.settings import Settings
from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.model import CITY_TIMEZONE
from reconciliation.resolve import FOUR_EYES_ABOVE
from reconciliation.review import ActionKind


@dataclass(frozen=True)
class ReviewConfig:
    """The workspace's knobs: the four-eyes amount, how many decisions teach a rule, the
    allocation policy a resolution places money by, and the time zone whose calendar day a
    correction counts for."""

    four_eyes_above: int = FOUR_EYES_ABOVE  # bani; a resolution above it waits for approval
    learn_after: int = 2  # consistent decisions before a payer's account is placed by itself
    policy: AllocationPolicy = DEFAULT_POLICY
    timezone: str = CITY_TIMEZONE  # Settings.timezone

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewConfig:
        """The amounts from the environment, the policy from the gateway's TOML
        ([allocation]); build it once per process (it reads the file)."""
        from connectors.config import load_file

        return cls(
            four_eyes_above=settings.four_eyes_above,
            learn_after=settings.learn_after,
            policy=load_file(settings).allocation,
            timezone=settings.timezone,
        )


DEFAULT_CONFIG = ReviewConfig()


class Candidate(msgspec.Struct, frozen=True):
    account_no: str
    score: float
    reason: str


class ItemState(msgspec.Struct, frozen=True):
    """A review item as an action sees it: what a conflict shows as the fresh state."""

    id: int
    payment_id: int
    amount: int  # bani
    reason: str
    state: str
    version: int
    candidates: list[Candidate] = []
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None
    payment_status: str = ""
    account_no: str | None = None
    pending_approval_id: int | None = None


class ActionResult(msgspec.Struct, frozen=True):
    """The answer to every action. ``outcome`` is ``done`` or ``awaiting_approval``;
    ``replayed`` is true when a form token was seen before (the first answer, again)."""

    action: str
    outcome: str
    message: str
    item_id: int | None = None
    payment_id: int | None = None
    state: str | None = None
    version: int | None = None
    payment_status: str | None = None
    approval_id: int | None = None
    replayed: bool = False


class ItemConflict(Conflict):
    """Someone else acted first: the message says what happened, ``item`` is the fresh state."""

    def __init__(self, message: str, item: ItemState | None) -> None:
        super().__init__(message)
        self.item = item


# --- action parameters (also stored with a request for approval) -------------------------------


class ServicePart(msgspec.Struct, frozen=True):
    service_code: str
    amount: int  # bani


class SharePart(msgspec.Struct, frozen=True):
    account_no: str
    amount: int  # bani
    service_code: str | None = None


class AssignParams(msgspec.Struct, frozen=True, tag="assign"):
    account_no: str
    invoices: list[str] = []
    services: list[ServicePart] = []
    note: str = ""


class SplitParams(msgspec.Struct, frozen=True, tag="split"):
    shares: list[SharePart]
    note: str = ""


class ReturnParams(msgspec.Struct, frozen=True, tag="return"):
    iban: str
    name: str
    reason: str


class NotUtilityParams(msgspec.Struct, frozen=True, tag="not_utility"):
    reason: str


class DuplicateParams(msgspec.Struct, frozen=True, tag="duplicate"):
    of_payment_id: int
    outcome: str  # return | credit
    iban: str = ""
    name: str = ""
    reason: str = ""


class UndoParams(msgspec.Struct, frozen=True, tag="undo"):
    reason: str


class UnmatchParams(msgspec.Struct, frozen=True, tag="unmatch"):
    payment_id: int
    reason: str


Params = (
    AssignParams
    | SplitParams
    | ReturnParams
    | NotUtilityParams
    | DuplicateParams
    | UndoParams
    | UnmatchParams
)


def kind_of(params: Params) -> ActionKind:
    # every tag above is a str; msgspec types a tag str | int | None
    return ActionKind(str(type(params).__struct_config__.tag))


def params_json(params: Params) -> dict:
    return msgspec.to_builtins(params)


def params_from_json(data: dict) -> Params:
    return msgspec.convert(data, Params)


class Approval(msgspec.Struct, frozen=True):
    """A request waiting for (or decided by) a second person."""

    id: int
    action: str
    amount: int
    summary: str
    requested_by: str
    requested_at: datetime
    status: str
    review_item_id: int | None = None
    payment_id: int | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
