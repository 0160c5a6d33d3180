"""Delivery through an SMTP server, stopping short of the final "." until the sender says so."""

from __future__ import annotations

import asyncio
import contextlib
import time
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from ..domain import SmtpRefusal
from .wire import RawMessage

# QUIT is a courtesy (the server closes its side anyway): a stop does not wait long for its answer.
QUIT_SECONDS = 1.0


class SmtpDelivery:
    """Sends through WERKPLAATSEN_SMTP_URL (smtp://[user:password@]host:port, or smtps:// for TLS).

    The connection is opened on first use and reused for the next mails of the same burst; after a failure it
    is dropped, so the next mail starts on a fresh connection.
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.use_tls = parts.scheme == "smtps"
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            client = aiosmtplib.SMTP(
                hostname=self.hostname,
                port=self.port,
                use_tls=self.use_tls,
                username=self.username,
                password=self.password,
                timeout=self.timeout,
            )
            await client.connect()
            self._client = client
        return self._client

    async def prepare(self, notification_id: str, message: EmailMessage | RawMessage) -> SmtpHandoff:
        client = await self._connected()
        try:
            await _open_data(client, message, self.timeout)
        except BaseException:
            self._drop()
            raise
        return SmtpHandoff(self, client)

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.quit(), timeout=QUIT_SECONDS)
            self._drop()


async def _open_data(client: aiosmtplib.SMTP, message: EmailMessage | RawMessage, timeout: float) -> None:
    """MAIL, RCPT, DATA and the whole message, as aiosmtplib's send_message would, minus the final "."."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    if isinstance(message, RawMessage):  # 7-bit, ASCII addresses: as it is for every server
        sender, recipients, utf8, eight_bit, flat = message.sender, message.recipients, False, False, message.data
    else:
        found, recipients = extract_sender(message), extract_recipients(message)
        if found is None or not recipients:
            raise ValueError("message without sender or recipient")
        sender = found
        utf8 = not (sender + "".join(recipients)).isascii()
        eight_bit = client.supports_extension("8BITMIME")
        flat = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
    body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(flat))
    options = [f"size={len(body)}"] if client.supports_extension("size") else []
    options += ["BODY=8BITMIME"] if eight_bit else []
    options += ["SMTPUTF8"] if utf8 else []
    encoding = "utf-8" if utf8 else "ascii"
    await client.mail(sender, options=options, encoding=encoding)
    for recipient in recipients:
        await client.rcpt(recipient, encoding=encoding)
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise SmtpRefusal(start.code, start.message)
    protocol = client.protocol
    assert protocol is not None and protocol.transport is not None
    protocol.write(body)
    await _flushed(protocol.transport, timeout)  # type: ignore[arg-type]


async def _flushed(transport: asyncio.WriteTransport, timeout: float) -> None:
    """Wait until the kernel has every byte written so far: after that a dying process cannot lose them."""
    deadline = time.monotonic() + timeout
    while transport.get_write_buffer_size() > 0:
        if transport.is_closing() or time.monotonic() > deadline:
            raise aiosmtplib.SMTPServerDisconnected("could not hand the message to the server")
        await asyncio.sleep(0.001)


class SmtpHandoff:
    def __init__(self, delivery: SmtpDelivery, client: aiosmtplib.SMTP) -> None:
        self.delivery = delivery
        self.client = client
        self._reading: asyncio.Task[Any] | None = None

    def expect_reply(self) -> None:
        # Reading starts before the terminator is written: aiosmtplib drops data that arrives while no command
        # awaits a response, and the reply may come before `reply` is awaited.
        protocol = self.client.protocol
        if protocol is not None:
            self._reading = asyncio.get_running_loop().create_task(
                protocol.read_response(timeout=self.delivery.timeout)
            )

    def terminate(self) -> None:
        protocol = self.client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before the end of the message")
        protocol.write(b".\r\n")

    async def reply(self) -> None:
        try:
            if self._reading is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost before the end of the message")
            response = await self._reading
        except BaseException:
            self.delivery._drop()
            raise
        if response.code != 250:
            raise SmtpRefusal(response.code, response.message)

    async def abort(self) -> None:
        # Closing the connection in the middle of DATA makes the server discard the message (RFC 5321 4.1.1.4).
        if self._reading is not None:
            self._reading.cancel()
        self.delivery._drop()
