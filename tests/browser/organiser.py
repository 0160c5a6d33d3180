"""Steps of the organiser's journey in the console, as a person takes them in the browser (tests/browser/
test_organiser_journey.py). Each step acts through the page's own labels and buttons, so a page that loses a
label or a button fails here."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(moment: datetime) -> datetime:
    return moment.astimezone(AMSTERDAM)


async def create_edition(page: Page, console_url: str, slug: str, now: datetime) -> None:
    """The new-edition form, every field a person fills in: two places, allocation in two days, three sessions."""
    await page.goto(f"{console_url}/console/editions/new")
    await page.get_by_label("Korte naam (slug)").fill(slug)
    await page.get_by_label("Titel", exact=True).fill("Werkplaatsen wijkgericht werken, proefeditie")
    await page.get_by_label("Naam van de locatie").fill("Stadskantoor Utrecht")
    await page.get_by_label("Adres", exact=True).fill("Stadsplateau 1")
    await page.get_by_label("Plaats", exact=True).fill("Utrecht")
    await page.get_by_label("Minimum aantal trio's").fill("1")
    await page.get_by_label("Maximum aantal trio's").fill("2")
    await page.get_by_label("Trio's per tafel").fill("2")
    deadline = local(now + timedelta(days=2)).replace(hour=12, minute=0)
    await page.get_by_label("Moment van plaatsing").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Bijdrage per trio in euro").fill("200")
    for number in (1, 2, 3):
        session = page.get_by_role("group", name=f"Bijeenkomst {number}")
        day = local(now + timedelta(days=7 * number))
        await session.get_by_label("Thema").fill(f"Thema van bijeenkomst {number}")
        await session.get_by_label("Wat deelnemers meenemen").fill("Een aanpak voor de eigen wijk.")
        await session.get_by_label("Datum").fill(day.strftime("%Y-%m-%d"))
        await session.get_by_label("Begintijd").fill("10:00")
        await session.get_by_label("Eindtijd").fill("16:00")
    await page.get_by_role("button", name="Editie aanmaken").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("proefeditie")


async def act_on_registration(page: Page, console_url: str, registration_id: str, form: str, reason: str) -> None:
    """One of the detail page's actions (the form with id FORM), with its reason; back on the detail page."""
    await page.goto(f"{console_url}/console/registrations/{registration_id}")
    section = page.locator(f"#{form}")
    await section.get_by_label("Reden").fill(reason)
    await section.get_by_role("button").click()
    await expect(page.locator("#melding")).to_be_visible()


def soon_on_the_minute(now: datetime, at_least: timedelta) -> datetime:
    """The first whole minute at least AT_LEAST from NOW (the form's times have minutes, no seconds)."""
    later = now + at_least
    return later.replace(second=0, microsecond=0) + timedelta(minutes=math.ceil(later.second / 60 + 1e-9))


async def reschedule(page: Page, console_url: str, slug: str, number: int, starts: datetime) -> None:
    await page.goto(f"{console_url}/console/editions/{slug}/sessions/{number}")
    await page.get_by_label("Begint op").fill(local(starts).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Eindigt op").fill(local(starts + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Bijeenkomst verzetten").click()
    await expect(page.get_by_role("status")).to_be_visible()
