"""`werkplaatsen dev`: the whole system in one process, with nothing but Python and files under a data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import httpx

from tests.factories import trio
from tests.support import free_port, wait_until


class DevProcess:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WERKPLAATSEN_", "REGISTRATION_", "SCHEDULING_", "NOTIFICATIONS_", "REPORTING_"))
        }
        self.env["WERKPLAATSEN_DATA_DIR"] = str(data_dir)
        self.log = data_dir / "dev.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services", "dev", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        await wait_until(self._ready, timeout=60, interval=0.2, what="werkplaatsen dev /ready")

    async def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"werkplaatsen dev exited: {self.log.read_text()[-3000:]}")
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{self.url}/ready", timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


async def get_json(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(url, timeout=5)).json()


async def test_newcomer_can_register_a_trio_and_read_the_acknowledgements_in_the_dev_mailbox(tmp_path) -> None:
    dev = DevProcess(tmp_path / "var")
    await dev.start()
    try:
        editions = await wait_until(lambda: _open_editions(dev.url), what="the example edition")
        (edition,) = editions
        assert [s["title"] for s in edition["sessions"]] == [
            "Positionering van het wijkgerichte werken in de eigen gemeente",
            "Lokale agenda",
            "Wat en wie heb je nodig?",
        ]
        body = trio(edition["slug"])
        key = str(uuid.uuid4())
        accepted = await wait_until(lambda: _register(dev.url, body, key), what="registration accepted")
        members = sorted(m["email"] for m in body["members"])
        mails = await wait_until(lambda: _mails(dev.url, body["case"]["title"], members), what="three acknowledgements")
        assert sorted(m["recipient"] for m in mails) == members
    finally:
        dev.kill()

    # Killed without warning: everything is still there after a restart, and nothing is sent twice.
    await dev.start()
    try:
        again = await _register(dev.url, body, key)
        assert again == accepted
        assert len(await _mails(dev.url, body["case"]["title"], members)) == 3
        files = (tmp_path / "var" / "mail").glob("*.eml")
        to = [message_from_bytes(p.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec for p in files]
        assert sorted(a for a in to if a in members) == members
    finally:
        dev.kill()


async def _open_editions(url: str) -> list[dict] | None:
    editions = (await get_json(f"{url}/api/editions"))["editions"]
    return [e for e in editions if e["registration_open"]] or None


async def _register(url: str, body: dict, key: str) -> dict | None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/api/registrations", json=body, headers={"Idempotency-Key": key})
    if response.status_code == 422 and [e["code"] for e in response.json()["errors"]] == ["unknown_edition"]:
        return None  # registration has not yet received the edition scheduling announced
    assert response.status_code == 202, response.text
    return response.json()


async def _mails(url: str, case_title: str, recipients: list[str]) -> list[dict] | None:
    """The sent acknowledgements to the trio's members (the approver gets a mail of their own)."""
    data = await get_json(f"{url}/dev/mailbox.json")
    found = [
        m
        for m in data["mails"]
        if case_title in m["text"]
        and m["status"] == "sent"
        and m["recipient"] in recipients
        and m["kind"] == "acknowledgement"
    ]
    return found if len(found) >= len(recipients) else None
