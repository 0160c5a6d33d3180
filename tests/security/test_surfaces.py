"""Every HTTP surface of the system, as `werkplaatsen dev` serves them in one app (SQLite, embedded broker):
organiser endpoints refuse requests without the organiser token, every HTML page carries a strict
Content-Security-Policy with frame-ancestors 'none', nosniff and a Referrer-Policy, and every form that acts
for a participant carries a CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from services.dev import build_dev_app
from shared import http as shared_http
from shared.links import sign
from shared.settings import Settings
from tests import factories
from tests.support import wait_until

TOKEN = "surfaces-organiser-token"
SECRET = "surfaces-secret-key"
# Everything else an app serves is for organisers only.
PUBLIC = {
    ("GET", "/"),
    ("POST", "/"),
    ("GET", "/api/municipalities"),
    ("GET", "/api/municipalities/{code}"),
    ("GET", "/registrations/{registration_id}"),
    ("GET", "/registrations/{registration_id}/cancel"),
    ("POST", "/registrations/{registration_id}/cancel"),
    ("GET", "/approve/{token}"),
    ("POST", "/approve/{token}"),
    ("POST", "/api/registrations"),
    ("GET", "/api/editions"),
    ("GET", "/api/editions/{slug}"),
    ("GET", "/editions/{slug}/calendar.ics"),
    ("GET", "/reports"),
    ("GET", "/reports/feed.atom"),
    ("GET", "/reports/{edition}"),
    ("GET", "/reports/{edition}.md"),
    ("GET", "/reports/{edition}.pdf"),
    ("GET", "/reports/{edition}/{session_number}"),
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("POST", "/dashboard/logout"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    # Only in `werkplaatsen dev`, never in `werkplaatsen run`:
    ("GET", "/dev"),
    ("GET", "/dev/dead-letters"),
    ("GET", "/dev/mailbox"),
    ("GET", "/dev/mailbox.json"),
}
PARAMS = {
    "registration_id": str(uuid.uuid4()),
    "token": "x",
    "slug": "2027-najaar",
    "edition": "2027-najaar",
    "session_number": "1",
    "code": "GM0345",
    "what": "registrations",
    "kind": "csv",
    "number": "WP-2027-0001",
    "routing_key": "scheduling.CloseRegistration",
}
# Forms that carry no CSRF token, and why that is safe.
WITHOUT_CSRF = {
    "/approve/": "its credential is the signed token in the URL, which a forging site cannot know",
    "/dashboard/login": "it asks for the organiser token itself; the session cookie is SameSite=Strict",
}


@pytest.fixture(scope="module")
async def dev(tmp_path_factory) -> AsyncIterator[Starlette]:
    settings = Settings(
        werkplaatsen_data_dir=Path(tmp_path_factory.mktemp("surfaces")),
        werkplaatsen_secret_key=SECRET,
        werkplaatsen_organizer_token=TOKEN,
        werkplaatsen_public_url="http://testserver",
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WERKPLAATSEN_RATE_LIMIT_PER_MINUTE", "0")
        app = build_dev_app(settings)
    async with app.router.lifespan_context(app):
        async with client(app) as http:
            await wait_until(lambda: form_is_open(http), what="the example edition open for registration")
        yield app


async def form_is_open(http: httpx.AsyncClient) -> bool:
    return 'name="csrf"' in (await http.get("/")).text


def client(app: Starlette, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers=headers,
    )


def endpoints(app: Starlette) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(method, route.path) for method in sorted(route.methods or {"GET"}) if method != "HEAD"]
    return found


def concrete(path: str) -> str:
    params = {**PARAMS, "kind": "pdf"} if "{number}" in path else PARAMS  # documents are pdf or xml, exports csv
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


async def test_every_endpoint_that_is_not_public_refuses_requests_without_the_organiser_token(dev: Starlette) -> None:
    protected = [(method, path) for method, path in endpoints(dev) if (method, path) not in PUBLIC]
    assert ("GET", "/api/registrations") in protected and ("GET", "/dashboard") in protected
    wrong = [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
    ]
    let_in = []
    async with client(dev) as http:
        for method, path in protected:
            for headers in wrong:
                answer = await http.request(method, concrete(path), headers=headers, params={"token": TOKEN})
                if answer.status_code != 401:
                    let_in.append(f"{method} {path} with {headers or 'no token'}: {answer.status_code}")
    assert not let_in, "organiser endpoints answered without the organiser token:\n" + "\n".join(let_in)


async def test_the_organiser_token_opens_what_it_guards(dev: Starlette) -> None:
    async with client(dev, Authorization=f"Bearer {TOKEN}") as http:
        assert (await http.get("/api/registrations")).status_code == 200
        assert (await http.get("/dashboard")).status_code == 200


async def test_the_organiser_token_is_compared_in_constant_time(
    dev: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = shared_http.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(shared_http.hmac, "compare_digest", spy)
    async with client(dev, Authorization="Bearer guess") as http:
        assert (await http.get("/api/registrations")).status_code == 401
    assert (b"guess", TOKEN.encode()) in compared


async def html_pages(dev: Starlette) -> dict[str, httpx.Response]:
    async with client(dev) as http:
        edition = (await http.get("/api/editions")).json()["editions"][0]["slug"]
        created = await http.post("/api/registrations", json=factories.trio(edition))
        rid = created.json()["registration_id"]
        status = f"/registrations/{rid}?token={sign(SECRET, 'status', rid)}"
        paths = [
            "/",
            status,
            status.replace("?", "/cancel?"),
            "/registrations/unknown?token=x",
            "/approve/x",
            "/reports",
            "/reports/unknown",
            "/reports/unknown/1",
            "/dashboard/login",
            "/dev",
            "/dev/mailbox",
        ]
        pages = {path: await http.get(path, headers={"Accept": "text/html"}) for path in paths}
        pages["/dashboard (refused)"] = await http.get("/dashboard", headers={"Accept": "text/html"})
        pages["/ (refused form)"] = await http.post("/", data={"edition": edition})
    return pages


async def test_every_html_page_has_a_strict_policy_nosniff_a_referrer_policy_and_cannot_be_framed(
    dev: Starlette,
) -> None:
    pages = await html_pages(dev)
    problems = []
    for path, page in pages.items():
        assert page.headers["content-type"].startswith("text/html"), (path, page.status_code)
        policy = page.headers.get("content-security-policy", "")
        script = re.search(r"script-src ([^;]*)", policy)
        missing = [
            *(["Content-Security-Policy"] if not policy else []),
            *(["frame-ancestors 'none'"] if "frame-ancestors 'none'" not in policy else []),
            *(["default-src 'none' or 'self'"] if not re.search(r"default-src '(none|self)'", policy) else []),
            *(["scripts without 'unsafe-inline'"] if script and "'unsafe-inline'" in script.group(1) else []),
            *(["X-Content-Type-Options: nosniff"] if page.headers.get("x-content-type-options") != "nosniff" else []),
            *(["Referrer-Policy"] if not page.headers.get("referrer-policy") else []),
        ]
        if missing:
            problems.append(f"{path} ({page.status_code}): {', '.join(missing)}")
    assert not problems, "pages without the security headers:\n" + "\n".join(problems)


async def test_every_form_that_acts_for_a_participant_carries_a_csrf_token(dev: Starlette) -> None:
    pages = await html_pages(dev)
    unguarded = []
    for path, page in pages.items():
        for form in re.findall(r"<form\b[^>]*>.*?</form>", page.text, re.S | re.I):
            if not re.search(r'method="post"', form, re.I):
                continue
            action = (re.search(r'action="([^"]*)"', form) or re.search(r"()", "")).group(1) or path
            if any(action.startswith(prefix) for prefix in WITHOUT_CSRF):
                continue
            if 'name="csrf"' not in form:
                unguarded.append(f"{path}: form posting to {action}")
    assert not unguarded, "\n".join(unguarded)
    assert any('name="csrf"' in page.text for page in pages.values())
