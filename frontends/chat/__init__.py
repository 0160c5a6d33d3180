"""The Werkplaatsen chat bot on Matrix, in Dutch: registering a trio in a guided dialogue, its status, cancelling,
the programme, and the messages notifications asks to deliver to a room.

Built on matrix-nio rather than mautrix: the bot only needs a plain client (log in, long-poll `/sync`, join, send
text with our own transaction ids), which nio's AsyncClient gives without a framework around it, whereas mautrix
is shaped for bridges and appservices; and the end-to-end tests already play the participant with nio, so the
project depends on one Matrix library, not two. End-to-end encryption is not used (rooms with the bot are plain).

Layout: `dialogue.py` (the conversation, no I/O), `store.py` (its own SQLite store), `bot.py` (Matrix sync loop,
its RabbitMQ queue through FastStream, the outbox), `settings.py` (environment), `__main__.py` (the CLI,
`python -m frontends.chat`). docs/chat.md tells how to run it against a homeserver.
"""
