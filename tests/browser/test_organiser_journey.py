"""The organiser's journey in a real browser, on the system as it is deployed: the four services and the console
as processes on RabbitMQ and PostgreSQL. The organiser's account comes from the CLI, as an operator makes it; the
organiser signs up through the invitation link with a password and an authenticator code, and works in the
console from there. Screenshots of every step go to the artefacts directory (and, with
WERKPLAATSEN_DOCS_SCREENSHOTS set, to docs/ for the organisers' guide)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from shared.settings import SERVICES
from tests.console_support import PASSWORD, ConsoleProcess, cli, console_process
from tests.support import ServiceEnv, ServiceProcess, running

ORGANISER = "anna@platform31.nl"


@dataclass
class Deployment:
    console: ConsoleProcess
    services: dict[str, ServiceProcess]
    env: ServiceEnv

    def invite(self, email: str, role: str, *editions: str) -> str:
        extra = [arg for slug in editions for arg in ("--edition", slug)]
        return cli(self.console.env, "accounts", "create", email, "--role", role, *extra).strip().splitlines()[-1]


@pytest.fixture
async def deployment(real_services: None, tmp_path: Path, artefacts: Path) -> AsyncIterator[Deployment]:
    async with ServiceEnv(
        "organiser", tmp_path / "data", "organiser-secret", "organiser-token", (*SERVICES, "console")
    ) as env:
        processes = {name: env.process(name, tmp_path / f"{name}.log") for name in SERVICES}
        console = console_process(env, processes, tmp_path / "console.log")
        try:
            async with running(*processes.values(), console):
                yield Deployment(console, processes, env)
        finally:
            for process in (*processes.values(), console):
                if process.log.exists():
                    shutil.copy(process.log, artefacts / process.log.name)


class Camera:
    """A full-page screenshot per step, numbered, in the artefacts directory (and docs/ when asked)."""

    def __init__(self, artefacts: Path) -> None:
        self.directory = artefacts
        docs = os.environ.get("WERKPLAATSEN_DOCS_SCREENSHOTS")
        self.docs = Path(docs) if docs else None
        self.count = 0

    async def shot(self, page: Page, name: str) -> None:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=path, full_page=True)
        if self.docs is not None:
            self.docs.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.docs / f"{name}.png")


async def sign_up_and_sign_in(page: Page, link: str, email: str, camera: Camera | None = None) -> None:
    """Accept the invitation as a person does (reading the key off the page into an authenticator), then sign in."""
    await page.goto(link)
    await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    await page.get_by_label("Hetzelfde wachtwoord nog een keer").fill(PASSWORD)
    key = page.locator("code.secret")
    authenticator = None
    if await key.count():
        await expect(page.get_by_role("img", name="QR-code voor je authenticator-app")).to_be_visible()
        authenticator = pyotp.TOTP((await key.inner_text()).strip())
        await page.get_by_label("Code die de app nu toont").fill(authenticator.now())
    if camera is not None:
        await camera.shot(page, "uitnodiging")
    await page.get_by_role("button", name="Account activeren").click()
    await page.get_by_label("E-mailadres").fill(email)
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    if authenticator is not None:
        await page.get_by_label("Code uit je authenticator-app").fill(authenticator.now())
    if camera is not None:
        await camera.shot(page, "inloggen")
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(f"{page.url.split('/console')[0]}/console/")


async def test_an_organiser_signs_up_with_an_authenticator_and_browses_the_api_documentation(
    browser: Browser, deployment: Deployment, artefacts: Path
) -> None:
    camera = Camera(artefacts)
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = await context.new_page()
    await sign_up_and_sign_in(page, deployment.invite(ORGANISER, "organiser"), ORGANISER, camera)
    await camera.shot(page, "start")

    await page.goto(f"{deployment.console.url}/console/api/docs")
    # Swagger UI breaks paths with zero-width spaces; its data-path attribute has the path as declared.
    await expect(page.locator('[data-path="/api/editions/{slug}"]').first).to_be_visible()
    await camera.shot(page, "api")
    await context.close()
