"""Signing out from any page: the menu's button posts the page's CSRF token, and on a page that has none the
menu links here, to a page with the sign-out form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .access import LOGIN_PATH, console, signed_in
from .rendering import page


async def logout_form(request: Request) -> Response:
    caller = await signed_in(request)
    if caller is None or caller.via != "session":
        return RedirectResponse(LOGIN_PATH, 303)
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    return csrf.attach(page("logout.html", caller=caller, csrf=token), fresh)


def navigation_routes() -> list[Route]:
    return [Route("/logout", logout_form, methods=["GET"])]
