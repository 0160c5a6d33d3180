"""The console's main menu: which sections a signed-in account sees, by what its role may do. Pure (no I/O), so
every template can call `menu(caller)` (a global of the console's templates, see rendering.py).

A page shows the menu by passing `caller` to its template (and `csrf` for a one-click sign-out button; without
it the menu links to the sign-out page, navigation.py); a template names its section with
`{% set section = "editions" %}` before its blocks, which marks that item with aria-current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..domain import PERMISSIONS, Action


@dataclass(frozen=True)
class MenuItem:
    section: str
    label: str
    href: str
    permission: Action | None  # None: every signed-in account (its own tokens, the API's documentation)


MENU: Final = (
    MenuItem("editions", "Edities", "/console/editions", "read"),
    MenuItem("registrations", "Aanmeldingen", "/console/registrations", "read"),
    MenuItem("invoices", "Facturen", "/console/invoices", "read"),
    MenuItem("audit", "Audit", "/console/audit", "audit.read"),
    MenuItem("tokens", "Toegangstokens", "/console/tokens", None),
    MenuItem("accounts", "Accounts", "/console/accounts", "accounts.manage"),
    MenuItem("api", "API", "/console/api/docs", None),
)


def menu(caller: object) -> list[MenuItem]:
    """The items CALLER's role may use. A facilitator may read, though only their own editions: the pages behind
    the items filter what they show."""
    principal = getattr(caller, "principal", None)
    if principal is None:
        return []
    allowed = PERMISSIONS[principal.role]
    return [item for item in MENU if item.permission is None or item.permission in allowed]
