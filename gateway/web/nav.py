"""The navigation bar: each entry shown to the roles that may open it.

Other parts of the workspace add their pages with ``NAV.append(NavItem(...))`` at import of
their page module (finance adds "Daily report", "Day close", ...); the base layout shows the
entries whose role the signed-in person's role includes (``Actor.allows``).
"""

from __future__ import annotations

import msgspec

from gateway.services.people import Actor, Role


class NavItem(msgspec.Struct, frozen=True):
    label: str
    href: str
    role: Role  # the role needed to see the entry
    key: str = ""  # a single-letter access key, "g" + key in the page's shortcuts


NAV: list[NavItem] = [
    NavItem("Queue", "/app/queue", Role.VIEWER, "q"),
    NavItem("Accounts", "/app/accounts", Role.VIEWER, "s"),
    NavItem("Ageing", "/app/ageing", Role.VIEWER, "g"),
    NavItem("Bulk", "/app/bulk", Role.ACCOUNTANT, "b"),
    NavItem("Approvals", "/app/approvals", Role.ACCOUNTANT, "p"),
    NavItem("Rules", "/app/rules", Role.VIEWER, "r"),
]


def nav_for(actor: Actor) -> list[NavItem]:
    return [item for item in NAV if actor.allows(item.role)]
