"""What the sender needs of a way out: a message prepared up to its last step, then finished or given up."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from .wire import RawMessage


class Handoff(Protocol):
    """A message the server holds completely but has not yet been told to accept (see sender/)."""

    def expect_reply(self) -> None:
        """Get ready for the server's answer to the terminator (called before `terminate`)."""
        ...

    def terminate(self) -> None:
        """Tell the server to take the message. Synchronous: nothing else runs between the caller and the write."""
        ...

    async def reply(self) -> None:
        """The server's answer to `terminate`; raises when it refuses (SmtpRefusal) or the line fails."""
        ...

    async def abort(self) -> None:
        """Give up without terminating: the server discards what it received."""
        ...


class Delivery(Protocol):
    """One sender worker's way out; may keep a connection open between mails until closed."""

    async def prepare(self, notification_id: str, message: EmailMessage | RawMessage) -> Handoff:
        """Everything up to the last step; raises if that already fails (nothing was handed over)."""
        ...

    async def close(self) -> None: ...
