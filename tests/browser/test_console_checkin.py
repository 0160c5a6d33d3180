"""Check-in at the door on a phone-sized screen in a real Chromium: a facilitator taps two trios in, one of them
while the phone is offline; the tap waits on the phone, goes out once the network is back, and "Aanwezigheid
vastleggen" records both in scheduling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, expect

from frontends.console.dev import beside
from services.dev import build_dev_app
from tests.console_support import PASSWORD, Console, active_account, settings
from tests.support import free_port, wait_until
from tests.unit.test_console_sessions import MACHINE, held_edition_with_trios

PHONE = {"width": 390, "height": 844}


@asynccontextmanager
async def served_console(data_dir: Path) -> AsyncIterator[Console]:
    """The whole system on a real port (the browser needs one), as `werkplaatsen dev` runs it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WERKPLAATSEN_RATE_LIMIT_PER_MINUTE", "0")
        host = build_dev_app(settings(data_dir))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(beside(host, host.state.console), port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started, what="the console to listen")
        context = host.state.console.state.console
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield Console(http, context.db, http._transport, context.backends.gateway)
    finally:
        server.should_exit = True
        await serving


async def test_a_facilitator_checks_in_two_trios_on_a_phone_one_of_them_offline(
    browser: Browser, tmp_path: Path, artefacts: Path
) -> None:
    async with served_console(tmp_path / "var") as console:
        organiser = await console.token("anna@platform31.nl", "organiser")
        placed = await held_edition_with_trios(console, organiser, "2034-voorjaar")
        await active_account(console.db, "fenna@platform31.nl", "facilitator", ["2034-voorjaar"])

        context = await browser.new_context(locale="nl-NL", viewport=PHONE, has_touch=True, is_mobile=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await page.goto(f"{console.http.base_url}/console/login")
        await page.get_by_label("E-mailadres").fill("fenna@platform31.nl")
        await page.get_by_label("Wachtwoord").fill(PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        await page.goto(f"{console.http.base_url}/console/editions/2034-voorjaar/sessions/1/checkin")
        await expect(page.locator("h1")).to_have_text("Aanmelden bij de deur")
        trios = page.locator("button.trio")
        await expect(trios).to_have_count(2)
        sync = page.locator("[data-sync]")
        await expect(sync).to_have_text("Alle tikken zijn bewaard bij de console.")

        await trios.nth(0).tap()
        await expect(trios.nth(0)).to_have_attribute("aria-pressed", "true")
        await expect(sync).to_have_text("Alle tikken zijn bewaard bij de console.")

        await context.set_offline(True)
        await trios.nth(1).tap()
        await expect(trios.nth(1)).to_have_attribute("aria-pressed", "true")
        await expect(sync).to_contain_text("1 tik wacht nog op verbinding")
        await expect(page.locator("[data-count]")).to_have_text("2")
        await page.screenshot(path=str(artefacts / "checkin-offline.png"), full_page=True)

        await context.set_offline(False)
        await expect(sync).to_have_text("Alle tikken zijn bewaard bij de console.", timeout=15_000)
        await page.get_by_role("button", name="Aanwezigheid vastleggen").click()
        await expect(page.locator(".notice")).to_have_text("De aanwezigheid is vastgelegd.")
        await page.screenshot(path=str(artefacts / "checkin-recorded.png"), full_page=True)
        assert not [e for e in errors if "Content Security Policy" in e], errors

        session = await console.http.get("/api/editions/2034-voorjaar/sessions/1", headers=MACHINE)
        assert sorted(session.json()["present"]) == sorted(placed)
        await context.close()
