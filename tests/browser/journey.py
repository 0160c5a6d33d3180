"""The whole participant journey in a real browser, the same whichever way the system runs.

A trio registers through the form; its manager approves from the link in the actual email; more trios take up
the other places (through the API, to keep it quick); a last trio registers when every place is spoken for;
the organiser closes registration; the first trio's status page then shows its place and its table at each
session, its confirmation mail carries the three sessions as an .ics, and the last trio sees its waitlist
position. A full-page screenshot of each step is written to the artefacts directory.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from icalendar import Calendar
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.factories import trio as trio_body
from tests.support import wait_until

APPROVAL_LINK = re.compile(r"https?://\S+/approve/[A-Za-z0-9_.\-]+")
STATUS_LINK = re.compile(r"https?://\S+/registrations/[0-9a-f-]{36}\?token=[A-Za-z0-9_.\-]+")


@dataclass
class Site:
    """Where a journey runs: the registration pages, the editions API, the mail delivered so far, and the
    organiser's way to close registration."""

    url: str  # the public site: registration form, status and approval pages, /api/registrations
    editions_url: str  # the service that serves /api/editions (scheduling)
    organizer_token: str
    mails: Callable[[], list[EmailMessage]]
    close_registration: Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Trio:
    municipality: str
    members: tuple[tuple[str, str, str, str], ...]  # name, email, role, domain
    case_title: str
    neighbourhood: str
    approver: tuple[str, str]  # name, email


def veenendaal(tag: str) -> Trio:
    return Trio(
        municipality="Veenendaal",
        members=(
            ("Anna de Vries", f"anna.{tag}@veenendaal.example", "wijkambtenaar", "sociaal"),
            ("Bram Jansen", f"bram.{tag}@veenendaal.example", "sectorambtenaar", "fysiek"),
            ("Chris Bakker", f"chris.{tag}@veenendaal.example", "sectorambtenaar", "veiligheid"),
        ),
        case_title="Groene pleinen tegen wateroverlast",
        neighbourhood="Dragonder-Oost",
        approver=("Dirk Visser", f"dirk.{tag}@veenendaal.example"),
    )


def zeist(tag: str) -> Trio:
    return Trio(
        municipality="Zeist",
        members=(
            ("Esra Yilmaz", f"esra.{tag}@zeist.example", "wijkambtenaar", "sociaal"),
            ("Frank de Boer", f"frank.{tag}@zeist.example", "sectorambtenaar", "fysiek"),
            ("Gerda Smit", f"gerda.{tag}@zeist.example", "sectorambtenaar", "economie"),
        ),
        case_title="Samen wonen in Vollenhove",
        neighbourhood="Vollenhove",
        approver=("Hans Mulder", f"hans.{tag}@zeist.example"),
    )


class Shots:
    """Numbered full-page screenshots, in the order the journey takes them, and when (steps.txt): where the
    time went when a run was slow."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []
        self.started = time.monotonic()

    async def take(self, page: Page, name: str) -> None:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        with (self.directory / "steps.txt").open("a") as steps:
            steps.write(f"{time.monotonic() - self.started:6.1f}s  {path.name}\n")


async def participant_journey(browser: Browser, site: Site, artefacts: Path) -> None:
    shots = Shots(artefacts)
    tag = uuid.uuid4().hex[:6]
    first, last = veenendaal(tag), zeist(tag)
    edition = await wait_until(lambda: open_edition(site), what="an edition open for registration")
    async with await new_context(browser) as participant_browser, await new_context(browser) as manager_browser:
        participant = await participant_browser.new_page()
        first_status = await register_in_browser(participant, site, first, shots, "first-trio")
        await approve_from_mail(manager_browser, site, first, shots, "first-trio")
        await participant.goto(first_status)
        await expect(participant.locator(".status")).to_have_text("Goedgekeurd")
        await shots.take(participant, "first-trio-status-approved")

        # Seven more medium-sized trios take up the remaining places (the first trio registered before them).
        places = edition["capacity"]["max_trios"]
        await fill_places(site, edition["slug"], count=places - 1, tag=tag)

        # Every place is now spoken for: the last trio registers anyway, and its manager approves.
        last_status = await register_in_browser(participant, site, last, shots, "last-trio")
        await approve_from_mail(manager_browser, site, last, shots, "last-trio")

        await site.close_registration(edition["slug"])

        await until_shown(participant, first_status, lambda text: "Geplaatst" in text and text.count("Tafel ") == 3)
        await expect(participant.locator(".status")).to_have_text("Geplaatst")
        tables = participant.locator("table.sessions tbody tr")
        await expect(tables).to_have_count(3)
        for row, session in enumerate(edition["sessions"]):
            await expect(tables.nth(row)).to_contain_text(session["title"])
            await expect(tables.nth(row)).to_contain_text(re.compile(r"Tafel \d+$"))
        await shots.take(participant, "first-trio-status-placed-with-tables")

        invitation = await wait_until(
            lambda: calendar_attachment(site, first.members[0][1], "Plaats bevestigd"),
            what="the placement confirmation with its .ics",
        )
        (artefacts / "first-trio-placement.ics").write_bytes(invitation)
        assert_lists_the_sessions(Calendar.from_ical(invitation), edition["sessions"])

        await until_shown(participant, last_status, lambda text: "Op de wachtlijst" in text)
        await expect(participant.locator(".status")).to_have_text("Op de wachtlijst (plaats 1)")
        await expect(participant.locator("main")).to_contain_text("Jullie staan op de wachtlijst op plaats 1")
        await expect(participant.locator("main")).to_contain_text("dan gaan jullie van de wachtlijst af")
        await shots.take(participant, "last-trio-status-waitlisted")

        # The places are allocated, but registration stays open until its closing moment: the form says that a late
        # trio gets a free place or the waitlist.
        await participant.goto(f"{site.url}/")
        await expect(participant.locator("main")).to_contain_text("zijn al verdeeld")
        await expect(participant.locator("main")).to_contain_text("anders komen jullie op de wachtlijst")
        await shots.take(participant, "form-after-allocation")


async def new_context(browser: Browser) -> BrowserContext:
    return await browser.new_context(
        locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 1100, "height": 900}
    )


async def register_in_browser(page: Page, site: Site, trio: Trio, shots: Shots, who: str) -> str:
    """Fills in and sends the form; returns the status page's address from the acknowledgement mail (the page
    says "check your mail": it reads the same whether or not the members were registered already)."""
    await page.goto(f"{site.url}/")
    await expect(page.locator("h1")).to_have_text("Aanmelden voor de Werkplaatsen wijkgericht werken")
    await page.get_by_label("Gemeente", exact=True).fill(trio.municipality)
    for index, (name, email, role, domain) in enumerate(trio.members):
        group = page.get_by_role("group", name=f"Lid {index + 1}", exact=False)
        await group.get_by_label("Naam", exact=True).fill(name)
        await group.get_by_label("E-mailadres", exact=True).fill(email)
        await group.get_by_label("Rol", exact=True).select_option(role)
        await group.get_by_label("Beleidsdomein", exact=True).select_option(domain)
    await page.get_by_label("Titel van de casus", exact=True).fill(trio.case_title)
    await page.get_by_label("Wijk of buurt", exact=True).fill(trio.neighbourhood)
    await page.get_by_label("Korte beschrijving", exact=True).fill(
        "Met bewoners en collega's van verschillende afdelingen werken we aan een opgave in de wijk."
    )
    await page.get_by_label(re.compile("^Fysiek")).check()
    await page.get_by_label(re.compile("^Sociaal")).check()
    await page.get_by_label("Naam goedkeurder", exact=True).fill(trio.approver[0])
    await page.get_by_label("E-mailadres goedkeurder", exact=True).fill(trio.approver[1])
    await page.locator("#consent-privacy").check()
    await expect(page.locator("#municipality-info")).to_contain_text("Deelname is kosteloos.")
    await shots.take(page, f"{who}-form")

    await page.get_by_role("button", name="Aanmelding versturen").click()
    await expect(page.locator("h1")).to_have_text("Bedankt, jullie aanmelding is ontvangen")
    await expect(page.locator("main")).to_contain_text("Controleer je mail")
    await shots.take(page, f"{who}-registered")
    member = trio.members[0][1]
    status = await wait_until(lambda: status_link(site, member), what=f"the acknowledgement mail for {who}")
    assert status.startswith(f"{site.url}/registrations/"), status
    return status


async def approve_from_mail(manager_browser: BrowserContext, site: Site, trio: Trio, shots: Shots, who: str) -> None:
    """The manager opens the link in the mail the system actually sent, and approves."""
    link = await wait_until(lambda: approval_link(site, trio.approver[1]), what=f"the approval mail for {who}")
    assert link.startswith(f"{site.url}/approve/"), link
    page = await manager_browser.new_page()
    await page.goto(link)
    await expect(page.locator("main")).to_contain_text(trio.case_title)
    await expect(page.locator("main")).to_contain_text(trio.members[0][0])
    await shots.take(page, f"{who}-approval-page")
    await page.get_by_role("button", name="Deelname goedkeuren").click()
    await expect(page.locator("h1")).to_have_text("Bedankt: de deelname is goedgekeurd")
    await shots.take(page, f"{who}-approved")
    await page.close()


async def fill_places(site: Site, edition: str, *, count: int, tag: str) -> None:
    """Medium-sized trios registered after the first one and approved by the organiser, through the API."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        for n in range(count):
            body = trio_body(edition, municipality="GM0345", tag=f"{tag}{n}")
            registered = await client.post(
                "/api/registrations", json=body, headers={"Idempotency-Key": f"journey-{tag}-{n}"}
            )
            assert registered.status_code in (200, 201, 202), registered.text
            registration_id = registered.json()["registration_id"]
            approved = await client.post(
                f"/api/registrations/{registration_id}/approve",
                headers={"Authorization": f"Bearer {site.organizer_token}"},
            )
            assert approved.status_code == 200, approved.text


async def until_shown(page: Page, url: str, shows: Callable[[str], bool]) -> None:
    """Reloads the page until its main text satisfies `shows` (the events behind it travel asynchronously)."""

    async def loaded() -> bool:
        response = await page.goto(url)
        if response is None or not response.ok:
            return False  # e.g. a 503 while the database is briefly out of reach: look again
        return shows(await page.locator("main").inner_text())

    await wait_until(loaded, interval=0.5, what=f"{url} to show the expected status")


async def open_edition(site: Site) -> dict[str, Any] | None:
    async with httpx.AsyncClient() as client:
        try:
            editions = (await client.get(f"{site.editions_url}/api/editions", timeout=5)).json()["editions"]
        except httpx.HTTPError:
            return None
    return next((e for e in editions if e["registration_open"]), None)


def mails_to(site: Site, address: str) -> list[EmailMessage]:
    return [m for m in site.mails() if address.lower() in str(m["To"]).lower()]


def status_link(site: Site, member: str) -> str | None:
    for message in mails_to(site, member):
        body = message.get_body(preferencelist=("plain",))
        found = STATUS_LINK.search(body.get_content() if body is not None else "")
        if found:
            return found.group()
    return None


def approval_link(site: Site, approver: str) -> str | None:
    for message in mails_to(site, approver):
        body = message.get_body(preferencelist=("plain",))
        found = APPROVAL_LINK.search(body.get_content() if body is not None else "")
        if found:
            return found.group()
    return None


def calendar_attachment(site: Site, member: str, subject: str) -> bytes | None:
    for message in mails_to(site, member):
        if subject not in str(message["Subject"]):
            continue
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                return part.get_payload(decode=True)
    return None


def assert_lists_the_sessions(calendar: Calendar, sessions: list[dict[str, Any]]) -> None:
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("DTSTART"))
    assert len(events) == 3
    for event, session in zip(events, sorted(sessions, key=lambda s: s["number"]), strict=True):
        assert session["title"] in str(event["SUMMARY"])
        assert event.decoded("DTSTART") == datetime.fromisoformat(session["starts_at"])
        assert event.decoded("DTEND") == datetime.fromisoformat(session["ends_at"])
