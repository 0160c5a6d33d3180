"""The Werkplaatsen chat bot on Matrix, in Dutch: registering a trio in a guided dialogue, its status, cancelling,
the programme, and the messages notifications asks to deliver to a room.

Built on matrix-nio rather than mautrix: the bot only needs a plain client (log in, long-poll `/sync`, join, send
text with our own transaction ids), which nio's AsyncClient gives without a framework around it, whereas mautrix
is shaped for bridges and appservices; and the end-to-end tests already play the participant with nio, so the
project depends on one Matrix library, not two. End-to-end encryption is not used (rooms with the bot are plain).

Layout: the conversation without I/O (`dialogue.py` routes a line to its flow; `conversation.py` the dialogue as
data; `registering.py` with `steps.py` and `answers.py` the guided registration; `status_cancel.py` the status,
programme and cancelling; `binding.py` binding a room to its trio with the mailed code), `store.py` (its own
SQLite store), `follows.py` (the events it follows, as a table of handlers applied to its copies), `bot.py` (each
line and message once, the outbox), `matrix.py` (Matrix account and sync loop), `bus.py` (its RabbitMQ queue
through FastStream), `settings.py` (environment), `__main__.py` (the CLI, `python -m frontends.chat`). It imports
no service code: what it shares with registration and notifications is in shared/.
docs/chat.md tells how to run it against a homeserver.
"""
