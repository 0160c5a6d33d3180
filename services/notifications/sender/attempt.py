"""One mail's attempt, from its claim to its recorded outcome (steps 1 to 4 of the package docstring)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from shared.messaging.processing import MessageStore

from ..delivery import Delivery, compose, wire
from ..domain import PENDING, Mail
from ..store import HandoffRow, MailRow, due_mails, to_mail
from .handoff import Handoffs, forget_handoff, handed_over, log_recovery
from .outcomes import Unrecorded, failure, record


class Attempts:
    """Attempts the next due mail in the store's units of work: one holding the claim to the end on PostgreSQL,
    short ones on SQLite."""

    def __init__(
        self, store: MessageStore, *, mail_from: str, clock: Callable[[], datetime], handoff_pool_size: int
    ) -> None:
        self.store = store
        self.mail_from = mail_from
        self.clock = clock
        self.handoffs = Handoffs(store.db, clock, pool_size=handoff_pool_size)
        self.unrecorded = Unrecorded()

    async def next(self, delivery: Delivery) -> bool:
        """Attempt one due mail; False when none is due."""
        if self.store.db.is_postgres:
            return await self._locked(delivery)
        return await self._unlocked(delivery)

    async def close(self) -> None:
        await self.handoffs.close()

    async def _locked(self, delivery: Delivery) -> bool:
        accepted: str | None = None  # a mail the server took in this attempt
        try:
            async with self.store.unit_of_work() as uow:  # transaction A: holds the row lock to the end
                # The handoff row comes with the claim (an outer join, not a second round trip per mail).
                claim = (
                    due_mails(self.clock())
                    .add_columns(HandoffRow.notification_id)
                    .outerjoin(HandoffRow, HandoffRow.notification_id == MailRow.notification_id)
                    .limit(1)
                    .with_for_update(of=MailRow, skip_locked=True)
                )
                found = (await uow.session.execute(claim)).first()
                if found is None:
                    return False
                row, handoff = found
                mail = to_mail(row)
                if handoff is not None or mail.notification_id in self.unrecorded:
                    log_recovery(mail)
                    await record(uow, mail, None, now=self.clock(), mail_from=self.mail_from)
                else:
                    error, permanent = await self._deliver(delivery, mail)
                    accepted = mail.notification_id if error is None else None
                    await record(uow, mail, error, now=self.clock(), mail_from=self.mail_from, permanent=permanent)
        except Exception:
            if accepted is not None:
                self.unrecorded.remember(accepted)
            raise
        self.unrecorded.forget(mail.notification_id)
        return True

    async def _unlocked(self, delivery: Delivery) -> bool:
        # SQLite has no row locks and is only used by a single process (dev mode), where this loop is the only
        # sender. Holding its one write lock while an SMTP server answers would stall every other writer, so the
        # mail is read, handed over, and then recorded in short transactions.
        async with self.store.db.sessions() as session:
            row = (await session.execute(due_mails(self.clock()).limit(1))).scalar_one_or_none()
            mail = to_mail(row) if row is not None else None
            already = mail is not None and await handed_over(session, mail)
        if mail is None:
            return False
        error, permanent = (None, False) if already else await self._deliver(delivery, mail)
        async with self.store.unit_of_work() as uow:
            row = await uow.session.get(MailRow, uuid.UUID(mail.notification_id))
            if row is not None and row.status == PENDING:
                await record(uow, mail, error, now=self.clock(), mail_from=self.mail_from, permanent=permanent)
            else:
                await forget_handoff(uow.session, mail)
        return True

    async def _deliver(self, delivery: Delivery, mail: Mail) -> tuple[str | None, bool]:
        """Send one mail in two phases; the reason it failed and whether for good, or None."""
        try:
            message = wire(mail, self.mail_from) or compose(mail, self.mail_from)
            handoff = await delivery.prepare(mail.notification_id, message)
        except Exception as exc:  # nothing was handed over: an ordinary failed attempt
            return failure(mail, exc)
        try:
            await self.handoffs.hand_over(mail, handoff)
        except BaseException:
            await handoff.abort()
            raise
        try:
            await handoff.reply()
        except Exception as exc:
            return failure(mail, exc)
        return None, False
