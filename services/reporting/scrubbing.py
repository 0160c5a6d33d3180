"""The anonymiser for one edition's pages, from what reporting's store holds (views.anonymiser_for makes it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import SqlFalsePositives, SqlScopedNames, SqlTrios, municipalities_elsewhere
from .anonymise import Anonymiser, NameKey
from .domain import Municipality, Trio
from .views import anonymiser_for


async def edition_anonymiser(
    session: AsyncSession, key: NameKey, edition: str, trios: list[Trio] | None = None
) -> Anonymiser:
    names = SqlScopedNames(session)
    return anonymiser_for(
        key,
        await names.of_edition(edition),
        trios if trios is not None else await SqlTrios(session).of_edition(edition),
        other_names=await names.elsewhere(edition),
        elsewhere=[(Municipality(**m), ok) for m, ok in await municipalities_elsewhere(session, edition)],
        allowed=await SqlFalsePositives(session).of_edition(edition),
    )
