"""The browser tier: pages driven in a real headless Chromium (Debian's package, see scripts/browser-setup)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
# Headless in a container, and quiet: no sandbox (we run as root there), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


ARTEFACTS_SEEN = pytest.StashKey[list[Path]]()


@pytest.fixture
def artefacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where a test keeps its screenshots: $WERKPLAATSEN_ARTEFACTS/<test> (CI uploads it), else under tmp_path."""
    base = Path(os.environ["WERKPLAATSEN_ARTEFACTS"]) if os.environ.get("WERKPLAATSEN_ARTEFACTS") else tmp_path
    directory = base / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    directory.mkdir(parents=True, exist_ok=True)
    request.config.stash.setdefault(ARTEFACTS_SEEN, []).append(directory)
    return directory


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    directories = config.stash.get(ARTEFACTS_SEEN, [])
    if directories:
        terminalreporter.write_sep("-", "browser artefacts (screenshots)")
        for directory in directories:
            terminalreporter.write_line(f"{directory} ({len(list(directory.glob('*.png')))} screenshots)")
