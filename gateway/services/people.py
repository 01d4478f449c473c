"""Who is acting: the people's roles and the actor every workspace service receives.

Pages, the workspace JSON API and the CLI all pass an ``Actor`` to the services, which check
the role they need with ``require`` and record ``actor.username`` in the audit trail. The CLI
acts as the operator named by ``--as`` (default: the system user ``cli``, role supervisor).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from gateway.errors import Forbidden


class Role(StrEnum):
    """What a person may do; each role includes the rights of the roles before it in RANK."""

    VIEWER = "viewer"  # reads the queue, items and reports
    ACCOUNTANT = "accountant"  # resolves review items
    SUPERVISOR = "supervisor"  # approves (four-eyes), undoes, bulk actions, closes days
    FINANCE = "finance"  # reports, day close, payment orders


# Finance is a separate line of work, not a rank above supervisor: see ``allows``.
_RIGHTS: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.ACCOUNTANT: frozenset({Role.VIEWER, Role.ACCOUNTANT}),
    Role.SUPERVISOR: frozenset({Role.VIEWER, Role.ACCOUNTANT, Role.SUPERVISOR}),
    Role.FINANCE: frozenset({Role.VIEWER, Role.FINANCE}),
}


class Actor(msgspec.Struct, frozen=True):
    """The person (or the CLI operator) on whose behalf a service acts."""

    username: str
    role: Role

    def allows(self, needed: Role) -> bool:
        return needed in _RIGHTS[self.role]

    def require(self, *needed: Role) -> None:
        """Refuse unless the actor holds at least one of ``needed``."""
        if not any(self.allows(role) for role in needed):
            wanted = " or ".join(needed)
            raise Forbidden(f"{self.username} ({self.role}) may not do this: needs {wanted}")


CLI_ACTOR = Actor(username="cli", role=Role.SUPERVISOR)
