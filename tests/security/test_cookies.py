"""Cookies are Secure everywhere but in development (plain http on this machine): the registration pages' CSRF
cookie, the reporting dashboard's session and the console's cookies all follow shared/http.py secure_cookies."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.registration import consumes
from services.registration.web import web_routes
from shared.http import secure_cookies
from shared.settings import Settings
from tests.unit.test_registration_web import MUNICIPALITIES, SECRET, open_site, sqlite_url
from tests.unit.test_reporting_dashboard import TOKEN, make

# (public base URL, whether cookies are Secure)
DEPLOYMENTS = [
    ("http://localhost:8000", False),  # `werkplaatsen dev`
    ("http://127.0.0.1:8080", False),
    ("https://werkplaatsen.example.nl", True),
    # Plain http anywhere else is not development: the cookie stays Secure (and the deployment shows it is wrong).
    ("http://werkplaatsen.intern.example.nl", True),
]


@pytest.mark.parametrize(("public_url", "secure"), DEPLOYMENTS)
def test_cookies_are_secure_unless_on_plain_http_on_this_machine(public_url: str, secure: bool) -> None:
    assert secure_cookies(public_url) is secure


@pytest.mark.parametrize(("public_url", "secure"), DEPLOYMENTS)
async def test_the_registration_forms_csrf_cookie_is_secure_outside_development(
    tmp_path: Path, public_url: str, secure: bool
) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        settings = Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url=public_url)
        routes = web_routes(site.store, consumes.consumers(site.store, MUNICIPALITIES), MUNICIPALITIES, settings)
        transport = httpx.ASGITransport(app=Starlette(routes=routes))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            cookie = (await http.get("/")).headers["set-cookie"]
        assert cookie.startswith("werkplaatsen_csrf=") and "httponly" in cookie.lower()
        assert ("secure" in cookie.lower()) is secure
    finally:
        await site.close()


@pytest.mark.parametrize(("public_url", "secure"), DEPLOYMENTS)
async def test_the_dashboard_session_cookie_is_secure_outside_development(
    tmp_path: Path, public_url: str, secure: bool
) -> None:
    service, db = await make(tmp_path, public_url)
    try:
        cookie = (await service.http.post("/dashboard/login", data={"token": TOKEN})).headers["set-cookie"]
        assert cookie.startswith("werkplaatsen_organisator=")
        assert ("secure" in cookie.lower()) is secure
    finally:
        await service.http.aclose()
        await db.dispose()
