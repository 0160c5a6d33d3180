"""Every route of the organiser console, found from the app itself: what is not public asks for a login (a
redirect to the login page for pages, 401 for the API), with no session, a forged or expired one, or a wrong
token; and every page carries a strict policy and cannot be framed. A route added later is covered at once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount, Route

from frontends.console.web import app as console_app
from shared.settings import Settings

# Reachable without an account, each for its reason.
PUBLIC: dict[str, str] = {
    "/console/login": "the sign-in itself",
    "/console/logout": "signing out needs no account (it only ends a session)",
    "/console/login/oidc": "starts the identity provider's sign-in",
    "/console/login/oidc/callback": "the identity provider's answer, checked by its signed state",
    "/console/invitation/{token}": "the signed invitation link is the credential",
    "/console/reset/{token}": "the signed reset link is the credential",
    "/console/health": "the orchestrator's probe",
    "/console/ready": "the orchestrator's probe",
    "/console/api/openapi.json": "the API's description, no data",
    "/console/api/docs": "the API's documentation page",
    "/console/api/docs/{asset:path}": "its script and stylesheet",
    "/console/static": "the check-in page's script and the console's stylesheet",
}
SAMPLE = {
    "slug": "2027-najaar",
    "number": "1",
    "registration_id": "00000000-0000-4000-8000-000000000000",
    "account_id": "00000000-0000-4000-8000-000000000001",
    "token_id": "00000000-0000-4000-8000-000000000002",
    "id": "00000000-0000-4000-8000-000000000003",
    "name": "registrations.csv",
    "action": "approve",
    "what": "registrations",
    "kind": "csv",
}


def routes(app: object) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(items: list[object], prefix: str) -> None:
        for item in items:
            if isinstance(item, Mount) and not item.routes:  # an app of its own, e.g. static files
                found.append(("GET", prefix + item.path))
            elif isinstance(item, Mount):
                walk(list(item.routes), prefix + item.path)
            elif isinstance(item, Route):
                methods = sorted((item.methods or {"GET"}) - {"HEAD"})
                found.extend((method, prefix + item.path) for method in methods)

    walk(list(app.routes), "")  # type: ignore[attr-defined]
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    settings = Settings(werkplaatsen_secret_key="surfaces-secret", werkplaatsen_public_url="http://localhost")
    settings.console_database_url = f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}"
    application = console_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield application, http


async def test_every_console_route_that_is_not_public_asks_for_a_login(console) -> None:
    application, http = console
    found = routes(application)
    assert set(PUBLIC) <= {path for _, path in found}, "PUBLIC names a route the console no longer has"
    protected = [(m, p) for m, p in found if p not in PUBLIC]
    assert ("GET", "/console/audit") in protected and ("POST", "/console/api/editions") in protected
    assert len(protected) > 40, "the console's routes were not found"
    attempts = [
        {},
        {"Authorization": "Bearer wpc_not-a-token"},
        {"Authorization": "Basic b3JnYW5pc2Vy"},
        {"Cookie": "wp_console=forged.session.value"},
    ]
    let_in = []
    for method, path in protected:
        for headers in attempts:
            answer = await http.request(method, concrete(path), headers=headers, data={"csrf": "x"})
            if path.startswith("/console/api/"):
                ok = answer.status_code == 401
            else:
                # A page sends the visitor to the login page; a form post without a valid session or CSRF token
                # is refused before anything is done.
                ok = (answer.status_code == 303 and answer.headers["location"] == "/console/login") or (
                    method == "POST" and answer.status_code in (400, 403)
                )
            if not ok:
                let_in.append(f"{method} {path} with {headers or 'nothing'}: {answer.status_code}")
    assert not let_in, "console routes answered without a login:\n" + "\n".join(let_in)


async def test_the_console_pages_that_need_no_login_have_a_strict_policy_and_cannot_be_framed(console) -> None:
    _, http = console
    for path in ("/console/login", "/console/api/docs", "/console/invitation/not-a-token"):
        answer = await http.get(path)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-eval" not in policy and answer.headers["x-content-type-options"] == "nosniff", path
