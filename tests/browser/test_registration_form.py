"""A trio registers through the web form in a real browser, and its manager approves from the actual email."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from tests.integration.test_dev_mode import DevProcess
from tests.support import wait_until

APPROVER = "dirk.visser@veenendaal.example"
MEMBER = "anna.devries@veenendaal.example"
STATUS_LINK = re.compile(r"https?://\S+/registrations/[0-9a-f-]{36}\?token=[A-Za-z0-9_.\-]+")


async def test_a_trio_registers_in_the_browser_fixes_its_errors_and_is_approved_from_the_email(
    browser: Browser, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    dev = DevProcess(data_dir)
    dev.env["WERKPLAATSEN_PUBLIC_URL"] = dev.url  # the links in the mails lead back to this process
    await dev.start()
    try:
        await wait_until(lambda: _edition_open(dev.url), what="the example edition open for registration")
        context = await browser.new_context(locale="nl-NL", viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        await page.goto(f"{dev.url}/")
        await expect(page.locator("h1")).to_have_text("Aanmelden voor de Werkplaatsen wijkgericht werken")

        await _fill_in(page)
        # The inline script looks the municipality up and tells the fee and priority before submitting.
        info = page.locator("#municipality-info")
        await expect(info).to_contain_text("Veenendaal (Utrecht): middelgrote gemeente.")
        await expect(info).to_contain_text("Deelname is kosteloos.")
        await expect(info).to_contain_text("Jullie krijgen voorrang")
        await page.screenshot(path=str(tmp_path / "form.png"), full_page=True)

        # Everyone in the social domain, and no privacy consent: refused, errors next to their fields.
        await page.get_by_role("button", name="Aanmelding versturen").click()
        summary = page.locator("#error-summary")
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("Er zijn 2 problemen met de aanmelding")
        await expect(page.locator("#members-error")).to_contain_text("meerdere beleidsdomeinen")
        await expect(page.locator("#consent-privacy-error")).to_contain_text("toestemming")
        await expect(page.locator("#consent-privacy")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#members-0-name")).to_have_value("Anna de Vries")
        await expect(page.locator("#case-title")).to_have_value("Groene pleinen tegen wateroverlast")
        await expect(page.locator("#members-1-domain")).to_have_value("sociaal")

        # The summary's links lead to the fields; fix them and submit with the keyboard.
        await summary.get_by_role("link", name=re.compile("Toestemming privacy")).click()
        await expect(page.locator("#consent-privacy")).to_be_in_viewport()
        await page.get_by_label("Beleidsdomein", exact=True).nth(1).select_option("fysiek")
        await page.locator("#consent-privacy").press("Space")
        await page.get_by_role("button", name="Aanmelding versturen").press("Enter")

        await expect(page.locator("h1")).to_have_text("Bedankt, jullie aanmelding is ontvangen")
        await expect(page.locator("main")).to_contain_text("Controleer je mail")
        status_link = await wait_until(
            lambda: _link_in_mail(data_dir / "mail", MEMBER, STATUS_LINK), timeout=30, what="the acknowledgement"
        )
        assert status_link.startswith(f"{dev.url}/registrations/")

        approve_url = await wait_until(
            lambda: _approval_link(data_dir / "mail"), timeout=30, what="the approver's email with the approval link"
        )
        assert approve_url.startswith(f"{dev.url}/approve/")
        approver = await (await browser.new_context(locale="nl-NL")).new_page()  # the manager's own browser
        await approver.goto(approve_url)
        await expect(approver.locator("main")).to_contain_text("Groene pleinen tegen wateroverlast")
        await expect(approver.locator("main")).to_contain_text("Anna de Vries")
        await approver.get_by_role("button", name="Deelname goedkeuren").click()
        await expect(approver.locator("h1")).to_have_text("Bedankt: de deelname is goedgekeurd")

        await page.goto(status_link)
        await expect(page.locator(".status")).to_have_text("Goedgekeurd")
        await expect(page.locator("main")).to_contain_text("Dirk Visser heeft de deelname goedgekeurd")
    finally:
        dev.kill()


async def _fill_in(page: Page) -> None:
    await page.get_by_label("Gemeente", exact=True).fill("Veenendaal")
    members = [
        ("Anna de Vries", "anna.devries@veenendaal.example", "wijkambtenaar", "wijkregisseur"),
        ("Bram Jansen", "bram.jansen@veenendaal.example", "sectorambtenaar", "beleidsadviseur wonen"),
        ("Chris Bakker", "chris.bakker@veenendaal.example", "sectorambtenaar", ""),
    ]
    for index, (name, email, role, job_title) in enumerate(members):
        group = page.get_by_role("group", name=f"Lid {index + 1}", exact=False)
        await group.get_by_label("Naam", exact=True).fill(name)
        await group.get_by_label("E-mailadres", exact=True).fill(email)
        await group.get_by_label("Rol", exact=True).select_option(role)
        await group.get_by_label("Beleidsdomein", exact=True).select_option("sociaal")
        if job_title:
            await group.get_by_label("Functie").fill(job_title)
    await page.get_by_label("Titel van de casus", exact=True).fill("Groene pleinen tegen wateroverlast")
    await page.get_by_label("Wijk of buurt", exact=True).fill("Dragonder-Oost")
    await page.get_by_label("Korte beschrijving", exact=True).fill(
        "Pleinen aanpassen met bewoners zodat regenwater wordt opgevangen en de buurt elkaar vaker ziet."
    )
    await page.get_by_label(re.compile("^Fysiek")).check()
    await page.get_by_label(re.compile("^Sociaal")).check()
    await page.get_by_label("Naam goedkeurder", exact=True).fill("Dirk Visser")
    await page.get_by_label("E-mailadres goedkeurder", exact=True).fill(APPROVER)


async def _edition_open(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        editions = (await client.get(f"{url}/api/editions", timeout=5)).json()["editions"]
    return any(e["registration_open"] for e in editions)


def _approval_link(mail_dir: Path) -> str | None:
    return _link_in_mail(mail_dir, APPROVER, re.compile(r"https?://\S+/approve/[A-Za-z0-9_.\-]+"))


def _link_in_mail(mail_dir: Path, to: str, link: re.Pattern[str]) -> str | None:
    for path in sorted(mail_dir.glob("*.eml")):
        message: EmailMessage = message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[assignment]
        if to not in str(message["To"]).lower():
            continue
        body = message.get_body(preferencelist=("plain",))
        found = link.search(body.get_content() if body is not None else "")
        if found:
            return found.group()
    return None
