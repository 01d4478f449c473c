"""The review service: every action of the accountants' workspace, shared by the pages, the
workspace JSON API, the CLI and jobs.

Actions (``actions``): assign, split, return_to_payer, not_utility, mark_duplicate, undo;
(``marks``) claim, release, comment; four-eyes (``approvals``): unmatch, approve, reject,
list_approvals. Each takes an ``Actor`` (``gateway.services.people``) and raises
``gateway.errors`` (``NotFound``, ``Forbidden``, ``UserError``, ``ItemConflict`` which is a
``Conflict`` carrying the item's fresh state).
"""

from gateway.services.review.actions import (
    assign,
    mark_duplicate,
    not_utility,
    return_to_payer,
    split,
    undo,
)
from gateway.services.review.approvals import approve, list_approvals, reject, unmatch
from gateway.services.review.marks import claim, comment, release
from gateway.services.review.structs import (
    ActionResult,
    Approval,
    ItemConflict,
    ItemState,
    ReviewConfig,
    ServicePart,
    SharePart,
)

__all__ = [
    "ActionResult",
    "Approval",
    "ItemConflict",
    "ItemState",
    "ReviewConfig",
    "ServicePart",
    "SharePart",
    "approve",
    "assign",
    "claim",
    "comment",
    "list_approvals",
    "mark_duplicate",
    "not_utility",
    "reject",
    "release",
    "return_to_payer",
    "split",
    "undo",
    "unmatch",
]
