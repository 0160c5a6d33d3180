"""Delivery without an SMTP server (development): each mail a file."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from .wire import RawMessage


class EmlDelivery:
    """Without an SMTP server (dev mode) each mail becomes `<directory>/<notification_id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def prepare(self, notification_id: str, message: EmailMessage | RawMessage) -> EmlHandoff:
        partial = self.directory / f"{notification_id}.eml.partial"
        content = message.data if isinstance(message, RawMessage) else message.as_bytes()
        await asyncio.to_thread(self._write, partial, content)
        return EmlHandoff(partial, self.directory / f"{notification_id}.eml")

    def _write(self, partial: Path, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(content)

    async def close(self) -> None:
        return None


class EmlCopies:
    """The .eml files of development, removed with the mails they copy (a privacy request, a member replaced)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def forget(self, notification_ids: Sequence[str]) -> None:
        if notification_ids:
            await asyncio.to_thread(self._remove, notification_ids)

    def _remove(self, notification_ids: Sequence[str]) -> None:
        for notification_id in notification_ids:
            for name in (f"{notification_id}.eml", f"{notification_id}.eml.partial"):
                (self.directory / name).unlink(missing_ok=True)


class NoCopies:
    """Mail through SMTP: nothing outside the database to remove."""

    async def forget(self, notification_ids: Sequence[str]) -> None:
        return None


class EmlHandoff:
    def __init__(self, partial: Path, final: Path) -> None:
        self.partial = partial
        self.final = final

    def expect_reply(self) -> None:
        return None

    def terminate(self) -> None:
        # Rename is atomic: a reader never sees half a mail, and a resend overwrites instead of duplicating.
        os.replace(self.partial, self.final)

    async def reply(self) -> None:
        return None

    async def abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()
