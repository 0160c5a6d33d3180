"""The whole participant journey (tests/browser/journey.py) in a real browser, run twice: on `werkplaatsen dev`
(one process, embedded broker, SQLite, mail as .eml files) and on RabbitMQ + PostgreSQL with the four services as
separate processes and a real SMTP server."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from services.scheduling.seed import SEED_FILE
from shared.settings import SERVICES
from tests.browser.journey import Site, participant_journey
from tests.integration.test_dev_mode import DevProcess
from tests.support import Bus, ServiceEnv, amqp_url, free_port, running, strong_secret

pytestmark = pytest.mark.browser

ORGANIZER_TOKEN = strong_secret("journey-organizer-token")


async def test_a_trio_is_placed_and_seated_and_a_trio_after_the_last_place_is_waitlisted_in_dev_mode(
    browser: Browser, dev_site: Site, artefacts: Path
) -> None:
    await participant_journey(browser, dev_site, artefacts)


async def test_a_trio_is_placed_and_seated_and_a_trio_after_the_last_place_is_waitlisted_on_rabbitmq(
    browser: Browser, rabbit_site: Site, artefacts: Path
) -> None:
    await participant_journey(browser, rabbit_site, artefacts)


async def close_over_http(scheduling_url: str, edition: str) -> None:
    """What the organiser does: POST /api/editions/{slug}/close with the organiser token (nobody else may)."""
    close = f"{scheduling_url}/api/editions/{edition}/close"
    async with httpx.AsyncClient(timeout=30) as client:
        anonymous = await client.post(close)
        assert anonymous.status_code == 401, anonymous.text
        answer = await client.post(close, headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"})
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text


@pytest.fixture
async def dev_site(tmp_path: Path, artefacts: Path) -> AsyncIterator[Site]:
    data_dir = tmp_path / "var"
    dev = DevProcess(data_dir)
    dev.env["WERKPLAATSEN_PUBLIC_URL"] = dev.url  # the links in the mails lead back to this process
    dev.env["WERKPLAATSEN_ORGANIZER_TOKEN"] = ORGANIZER_TOKEN

    async def close_registration(edition: str) -> None:
        await close_over_http(dev.url, edition)

    await dev.start()
    try:
        yield Site(
            url=dev.url,
            editions_url=dev.url,
            organizer_token=ORGANIZER_TOKEN,
            mails=lambda: eml_files(data_dir / "mail"),
            close_registration=close_registration,
        )
    finally:
        dev.kill()
        shutil.copy(dev.log, artefacts / "dev.log")  # kept with the screenshots, to read when a step failed


def eml_files(directory: Path) -> list[EmailMessage]:
    # Dev mode delivers each mail as a whole .eml file (written aside, then renamed).
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(directory.glob("*.eml"))
    ]


@pytest.fixture
async def rabbit_site(real_services: None, tmp_path: Path, artefacts: Path) -> AsyncIterator[Site]:
    ports = {name: free_port() for name in SERVICES}
    public_url = f"http://127.0.0.1:{ports['registration']}"  # one public site, as behind a reverse proxy
    async with ServiceEnv(
        "journey",
        tmp_path / "data",
        strong_secret("journey-secret"),
        ORGANIZER_TOKEN,
        extra={"WERKPLAATSEN_PUBLIC_URL": public_url},
    ) as env:
        assert env.smtp is not None
        smtp = env.smtp
        processes = [env.process(name, tmp_path / f"{name}.log", ports[name]) for name in SERVICES]
        try:
            async with running(*processes):
                await load_edition(env.base)
                async with Bus(amqp_url(env.vhost)) as bus:

                    async def close_registration(edition: str) -> None:
                        await close_over_http(f"http://127.0.0.1:{ports['scheduling']}", edition)
                        await bus.wait_for("RegistrationClosed", edition=edition)

                    yield Site(
                        url=public_url,
                        editions_url=f"http://127.0.0.1:{ports['scheduling']}",
                        organizer_token=ORGANIZER_TOKEN,
                        mails=lambda: [m for _, m in smtp.messages],
                        close_registration=close_registration,
                    )
        finally:
            for process in processes:
                if process.log.exists():
                    shutil.copy(process.log, artefacts / process.log.name)


async def load_edition(env: dict[str, str]) -> None:
    """As an organiser does: the seed programme, moved into the future, through the CLI."""
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "editions",
        "load",
        str(SEED_FILE),
        "--future",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(cli.communicate(), timeout=60)
    assert cli.returncode == 0, output.decode()
