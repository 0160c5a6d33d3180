"""What the signed-in admin pages (audit log, tokens, accounts) share: the page with the account bar and the
admin links the caller may follow, a posted form with its CSRF token checked, and a link under the public URL."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..domain import may
from .access import Caller, NotSignedIn, console, signed_in
from .rendering import BadForm, csrf_refused, page, read_form


async def caller_of(request: Request) -> Caller:
    """Any signed-in account (what is its own needs no permission); NotSignedIn otherwise."""
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    return caller


def admin_page(request: Request, template: str, caller: Caller, status: int = 200, **context: Any) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    response = page(
        template,
        status,
        caller=caller,
        csrf=token,
        may_audit=may(caller.principal, "audit.read"),
        may_manage=may(caller.principal, "accounts.manage"),
        **context,
    )
    return csrf.attach(response, fresh)


class Refused(Exception):
    """A posted form that cannot be read or whose CSRF token fails: the answer to give instead."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def posted(request: Request) -> dict[str, str]:
    """The posted form, its CSRF token checked (every POST of these pages carries one); Refused otherwise."""
    try:
        form = await read_form(request)
    except BadForm as bad:
        raise Refused(bad.response) from None
    if not console(request).csrf.valid(request, form.get("csrf", "")):
        raise Refused(csrf_refused())
    return form


def public_link(request: Request, path: str) -> str:
    """PATH (below the site's root) as a whole link, under WERKPLAATSEN_PUBLIC_URL when the console knows it."""
    base = console(request).public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}{path}"
