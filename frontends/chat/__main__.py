"""`python -m frontends.chat`: run the chat bot with its settings from the environment (see docs/chat.md)."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import typer

from shared.logs import configure_logging

from .settings import load_chat_settings

if TYPE_CHECKING:
    from .bot import ChatBot

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def run() -> None:
    """Run the bot until SIGTERM or Ctrl-C."""
    from .bot import ChatBot

    settings = load_chat_settings()
    configure_logging(settings.werkplaatsen_log_format)
    asyncio.run(_run(ChatBot(settings)))


async def _run(bot: ChatBot) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await bot.run(stop)


if __name__ == "__main__":
    app()
