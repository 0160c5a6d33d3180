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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from shared.settings import SERVICES
from tests.browser.organiser import act_on_registration, create_edition, reschedule, soon_on_the_minute
from tests.console_support import PASSWORD, ConsoleProcess, cli, console_process
from tests.factories import trio
from tests.support import ServiceEnv, ServiceProcess, running, strong_secret, wait_until

ORGANISER = "anna@platform31.nl"


@dataclass
class Deployment:
    console: ConsoleProcess
    services: dict[str, ServiceProcess]
    env: ServiceEnv

    def invite(self, email: str, role: str, *editions: str) -> str:
        extra = [arg for slug in editions for arg in ("--edition", slug)]
        return cli(self.console.env, "accounts", "create", email, "--role", role, *extra).strip().splitlines()[-1]

    def token(self, email: str) -> str:
        return cli(self.console.env, "accounts", "token", email, "--name", "journey").strip().splitlines()[-1]

    async def register(self, edition: str, municipality: str, **changes: Any) -> str:
        """A trio registers through registration's API (waiting while registration may not know the edition yet)."""
        async with httpx.AsyncClient(base_url=self.services["registration"].url, timeout=30) as http:

            async def accepted() -> str | None:
                response = await http.post(
                    "/api/registrations", json=trio(edition, municipality=municipality, **changes)
                )
                return response.json()["registration_id"] if response.status_code == 202 else None

            found: str = await wait_until(accepted, timeout=60, interval=0.5, what=f"a trio from {municipality}")
            return found

    async def api(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.console.url, timeout=30) as http:
            return await http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    async def status(self, token: str, registration_id: str) -> str:
        detail = await self.api(token, "GET", f"/console/api/registrations/{registration_id}")
        status: str = detail.json()["status"]
        return status


@pytest.fixture
async def deployment(real_services: None, tmp_path: Path, artefacts: Path) -> AsyncIterator[Deployment]:
    async with ServiceEnv(
        "organiser",
        tmp_path / "data",
        strong_secret("organiser-secret"),
        strong_secret("organiser-token"),
        (*SERVICES, "console"),
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


async def test_an_organiser_runs_an_edition_from_creating_it_to_publishing_its_first_summary(
    browser: Browser, deployment: Deployment, artefacts: Path
) -> None:
    camera = Camera(artefacts)
    console = deployment.console.url
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = await context.new_page()
    await sign_up_and_sign_in(page, deployment.invite(ORGANISER, "organiser"), ORGANISER)
    token = deployment.token(ORGANISER)

    slug = "proef-2028"
    await create_edition(page, console, slug, datetime.now(UTC))
    await camera.shot(page, "editie")

    # Registrations arrive: Veenendaal and Zeist (medium-sized) and Amersfoort (large), for two places.
    veenendaal = await deployment.register(slug, "GM0345")
    zeist = await deployment.register(slug, "GM0355")
    invoice = {"address": "Postbus 4000\n3800 EA Amersfoort", "reference": "WW-2028-17"}
    amersfoort = await deployment.register(slug, "GM0307", invoice=invoice)
    await page.goto(f"{console}/console/registrations?edition={slug}")
    await expect(page.get_by_text("Amersfoort")).to_be_visible()
    await camera.shot(page, "aanmeldingen")

    await act_on_registration(
        page, console, veenendaal, "form-approve", "De goedkeurder stemde telefonisch in; zijn mail is onderweg."
    )
    await camera.shot(page, "goedgekeurd-namens")
    for registration_id in (zeist, amersfoort):
        approved = await deployment.api(
            token, "POST", f"/console/api/registrations/{registration_id}/approve", json={"reason": "Per mail."}
        )
        assert approved.status_code == 200, approved.text

    # Allocating early: the two medium-sized trios in, Amersfoort on the waitlist (registration stays open).
    await page.goto(f"{console}/console/editions/{slug}")
    await page.get_by_role("button", name="Plaatsen nu verdelen").click()
    await expect(page.get_by_role("status")).to_be_visible()
    await wait_until(
        lambda: _is(deployment, token, amersfoort, "waitlisted"), timeout=60, what="Amersfoort on the waitlist"
    )

    # A member of Veenendaal's trio leaves; her successor takes her place.
    await page.goto(f"{console}/console/registrations/{veenendaal}")
    replace = page.locator("#form-replace-member")
    await replace.get_by_label("Wie wordt vervangen").select_option(index=2)
    await replace.get_by_label("Naam van het nieuwe lid").fill("Dewi Pranoto")
    await replace.get_by_label("E-mailadres van het nieuwe lid").fill("dewi.pranoto@veenendaal.example")
    await replace.get_by_label("Reden").fill("Chris Bakker is van baan gewisseld.")
    await camera.shot(page, "lid-vervangen")
    await replace.get_by_role("button", name="Lid vervangen").click()
    await expect(page.get_by_text("Dewi Pranoto").first).to_be_visible()

    # The first session is moved to start in a minute or two (the venue changed its hours).
    starts = soon_on_the_minute(datetime.now(UTC), timedelta(seconds=75))
    await reschedule(page, console, slug, 1, starts)
    await camera.shot(page, "bijeenkomst-verzet")

    # Once the programme has begun, a freed place is not filled by itself: Zeist withdraws, and the organiser
    # gives its place to Amersfoort by hand.
    await wait_until(lambda: datetime.now(UTC) >= starts, timeout=180, interval=1, what="the first session begun")
    await act_on_registration(page, console, zeist, "form-cancel", "Het trio kan de andere data niet.")
    await wait_until(lambda: _is(deployment, token, zeist, "cancelled"), timeout=60, what="Zeist cancelled")
    await act_on_registration(
        page, console, amersfoort, "form-place", "Vrijgekomen plaats na de eerste bijeenkomst; Amersfoort stond eerst."
    )
    await wait_until(lambda: _is(deployment, token, amersfoort, "placed"), timeout=60, what="Amersfoort placed")
    await page.reload()  # registration has heard of the place by now: the page shows it, with the reason
    await expect(page.get_by_text("Vrijgekomen plaats na de eerste bijeenkomst").first).to_be_visible()
    await camera.shot(page, "met-de-hand-geplaatst")

    # At the door, on a phone: Veenendaal and Amersfoort come in.
    phone = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="nl-NL"
    )
    door = await phone.new_page()
    await door.goto(f"{console}/console/login")
    await door.context.add_cookies(await context.cookies())
    await door.goto(f"{console}/console/editions/{slug}/sessions/1/checkin")
    for municipality in ("Veenendaal", "Amersfoort"):
        trio_button = door.get_by_role("button", name=municipality)
        await trio_button.tap()
        await expect(trio_button).to_have_attribute("aria-pressed", "true")
    await camera.shot(door, "aanmelden-bij-de-deur")
    await door.get_by_role("button", name="Aanwezigheid vastleggen").tap()

    async def recorded() -> bool:
        session = await deployment.api(token, "GET", f"/console/api/editions/{slug}/sessions/1")
        return sorted(session.json().get("present", [])) == sorted([veenendaal, amersfoort])

    await wait_until(recorded, timeout=60, what="the attendance recorded by scheduling")
    await phone.close()

    # The session's notes, the preview with what the anonymiser changed, and publishing it.
    await page.goto(f"{console}/console/editions/{slug}/sessions/1/notes")
    await page.get_by_label("Lessen").fill("Begin bij de vraag van de bewoner.\nAnna de Vries: houd het klein.")
    await page.get_by_label("Citaten").fill("‘Samen zie je meer dan alleen’, zei Anna de Vries.")
    await camera.shot(page, "verslag-invoeren")
    await page.get_by_role("button", name="Afronden en naar voorbeeld").click()
    await expect(page.locator("mark").first).to_be_visible(timeout=60_000)
    # The summary as it will be published names nobody; the list of changes shows the organiser what was there.
    await expect(page.locator("article.preview").get_by_text("Anna de Vries")).to_have_count(0)
    changes = page.get_by_role("region", name="Wat de anonimisering veranderde")
    await expect(changes.get_by_role("cell", name="Anna de Vries").first).to_be_visible()
    await camera.shot(page, "voorbeeld-verslag")
    await page.get_by_role("button", name="Publiceren").click()
    await expect(page.get_by_role("status")).to_be_visible()
    async with httpx.AsyncClient(base_url=deployment.services["reporting"].url, timeout=30) as public:

        async def published() -> bool:
            return (await public.get(f"/reports/{slug}/1")).status_code == 200

        await wait_until(published, timeout=60, what="the summary on the public reports")
        assert "Anna de Vries" not in (await public.get(f"/reports/{slug}/1")).text

    # Every action is in the audit log, with the organiser as actor.
    await page.goto(f"{console}/console/audit")
    for action in (
        "ScheduleEdition",
        "ApproveRegistration",
        "CloseRegistration",
        "ReplaceMember",
        "RescheduleSession",
        "CancelRegistration",
        "PlaceTrio",
        "RecordAttendance",
        "CompleteSession",
        "PublishReport",
    ):
        await expect(page.get_by_text(action).first).to_be_visible()
    await camera.shot(page, "auditlog")
    await context.close()

    await facilitator_and_viewer_are_refused(browser, deployment, slug, amersfoort, camera)


async def facilitator_and_viewer_are_refused(
    browser: Browser, deployment: Deployment, slug: str, registration_id: str, camera: Camera
) -> None:
    console = deployment.console.url
    for email, role in (("fenna@platform31.nl", "facilitator"), ("vera@zwolle.nl", "viewer")):
        editions = (slug,) if role == "facilitator" else ()
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
        page = await context.new_page()
        await sign_up_and_sign_in(page, deployment.invite(email, role, *editions), email)
        # The registration is readable, but no action is offered; asking for one anyway is refused.
        await page.goto(f"{console}/console/registrations/{registration_id}")
        await expect(page.locator("#form-place, #form-cancel, #form-replace-member")).to_have_count(0)
        refused = await page.goto(f"{console}/console/editions/new")
        assert refused is not None and refused.status == 403
        await expect(page.get_by_role("heading", name="Dit mag je niet")).to_be_visible()
        await expect(page.get_by_text("mag je niet edities aanmaken")).to_be_visible()
        if role == "viewer":
            await camera.shot(page, "geweigerd")
        token = deployment.token(email)
        publish = await deployment.api(token, "POST", f"/console/api/editions/{slug}/sessions/1/report/publish")
        assert publish.status_code == 403
        place = await deployment.api(
            token, "POST", f"/console/api/registrations/{registration_id}/place", json={"reason": "Probeer."}
        )
        assert place.status_code == 403
        await context.close()


async def _is(deployment: Deployment, token: str, registration_id: str, status: str) -> bool:
    return await deployment.status(token, registration_id) == status


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
