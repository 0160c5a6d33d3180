"""The browser tier: pages driven in a real headless Chromium (Debian's package, see scripts/browser-setup)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
# Headless in a container, and quiet: no sandbox (we run as root there), no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # Like the other tiers' real dependencies: a missing browser fails the run, it is never skipped.
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run scripts/browser-setup"
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
