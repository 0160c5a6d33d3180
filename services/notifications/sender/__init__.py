"""The mail sender: a background loop that queues due reminders, delivers due mails and reports each outcome.

Where it is: the loop and its workers (`pool`), one mail's attempt from claim to record (`attempt`), the
handoff row and the terminator (`handoff`), what an attempt comes to (`outcomes`). The ways a mail leaves are in
`services/notifications/delivery/`.

Exactly once, as far as SMTP allows: a two-phase send.

1. Claim. On PostgreSQL a due mail is claimed with SELECT ... FOR UPDATE SKIP LOCKED in transaction A, whose row
   lock is held until the outcome is recorded: competing replicas never work on the same mail at once. A mail
   that has a `mail_handoffs` row is not sent at all but recorded as sent (recovery, below).
2. Hand over. MAIL FROM, RCPT TO, DATA and the whole dot-stuffed message (aiosmtplib's own line-ending
   normalisation and dot-stuffing) are written, and we wait until the kernel has taken every byte: everything
   except the terminating "<CRLF>.<CRLF>". The server holds the message but discards it if the connection ends.
3. Record the handoff and terminate. Transaction B is one autocommit INSERT of the `mail_handoffs` row, sent
   with the simple query protocol on a connection of its own. Its bytes and the terminator's three bytes are
   written to their sockets by two consecutive callbacks of the event loop, nothing in between: the INSERT
   task's first step, then the terminator. We do not wait for the database's answer before terminating (on a
   busy loop that wait is milliseconds, not the round trip: the reply waits its turn behind other work).
4. Read the server's reply, then record in A: 250 -> `sent` and NotificationSent in the outbox; 4xx or a broken
   connection -> back to `pending` with backoff (NotificationFailed after MAX_ATTEMPTS); 5xx -> `failed` and
   NotificationFailed. The handoff row is deleted in A too; A commits and releases the row lock.

Recovery. A crash after step 3 rolls A back: the mail is `pending` and unlocked again, and its handoff row is
committed (PostgreSQL executes an INSERT it has received even when the client is gone; the kernel still sends
both sockets' written bytes after a SIGKILL, as neither has unread input at that moment). Whoever claims the
mail next (this process after a restart, or another replica at once) sends nothing and records it as sent with
its NotificationSent. A crash before step 3 leaves no handoff row and no terminator: the server drops the
message, and the mail is sent again in full.

The windows that remain, precisely:
- Lost mail: a crash between the INSERT's write and the terminator's write in step 3, i.e. between two
  adjacent callbacks of the loop (microseconds); or the terminator's bytes lost after they were written
  (the server's host fails before reading them).
- Duplicate mail: the terminator was written but the handoff row was not committed (the database refused or
  lost the INSERT) and this process dies before A records the outcome, or A cannot record it either (the
  database is gone) and another replica claims the mail before this one does (this one remembers what the
  server accepted: `outcomes.Unrecorded`); or the server accepted and its reply
  never reached us (connection cut, timeout): the mail goes back to `pending` and is sent again, with the same
  Message-ID. The latter is SMTP's own ambiguity; no client can close it. (If an earlier cancellation is still
  being acknowledged on the handoff connection, asyncpg may delay the INSERT's write past the terminator: then
  a crash in between duplicates rather than loses.)
- Mail recorded as sent though the server refused it: a crash after step 3 before A commits, when the server
  answered 4xx/5xx to the terminator.
The window of the earlier send-then-commit design (the server's 250 arrives, we die before the commit, the mail
goes out twice) is gone: that moment now lies after the handoff row.

SQLite (development, one process) has no row locks: there the claim is a plain read, B is a short transaction
awaited before the terminator, the outcome is recorded in a short transaction of its own, and recovery works
the same way.
"""

from .pool import MailSender, QueueReminders

__all__ = ["MailSender", "QueueReminders"]
