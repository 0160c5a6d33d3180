"""Announcing an event about a registration: emitted into the outbox and written into the registration's history in
the same unit of work, so the history holds exactly what was announced."""

from __future__ import annotations

from datetime import datetime

from shared.contract import Actor, EventData

from ..history import entry_for
from .ports import Emit, History


async def tell(event: EventData, *, emit: Emit, history: History, at: datetime, actor: Actor | None = None) -> None:
    emit(event)
    await note(event, history=history, at=at, actor=actor)


async def note(event: EventData, *, history: History, at: datetime, actor: Actor | None = None) -> None:
    """Only the history line: for another service's event once registration has applied it."""
    entry = entry_for(event, at, actor)
    if entry is not None:
        await history.add(entry)
