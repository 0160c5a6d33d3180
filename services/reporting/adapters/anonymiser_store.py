"""What the anonymiser keeps in reporting's store: its own key for name digests, the digests scoped to an edition,
and the organisers' false positives per edition (see anonymise.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, UtcDateTime, upsert, utcnow

from ..anonymise import NameKey, NameKind
from .tables import Base, NameDigestRow, TrioRow

OWN = "own"
LEGACY = "legacy"  # the key derived from WERKPLAATSEN_SECRET_KEY, for digests stored before the own key existed


class NameKeyRow(Base):
    """A key name digests are made with (hex). Made once; never changed, or every stored digest is lost."""

    __tablename__ = "name_keys"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FalsePositiveRow(Base):
    """A word or phrase that is no name in an edition's reports, as anonymise.false_positive keeps it."""

    __tablename__ = "false_positives"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    phrase: Mapped[str] = mapped_column(String(200), primary_key=True)
    added_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StoredNameKey(NameKey):
    """Reporting's own key, read from (or made in) its store when the service starts (`load`): the consumers and
    routes that use it are wired before the store can be read. Until then it hashes nothing rather than
    hashing under an empty key."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def load(self, db: Database, secret: str) -> None:
        key = await name_key(db, NameKey.from_secret(secret))
        object.__setattr__(self, "key", key.key)
        object.__setattr__(self, "previous", key.previous)

    def digest(self, words: Iterable[str]) -> str:
        self._loaded()
        return super().digest(words)

    def digests(self, words: tuple[str, ...]) -> tuple[str, ...]:
        self._loaded()
        return super().digests(words)

    def _loaded(self) -> None:
        if not self.key:
            raise RuntimeError("reporting's name key is read when the service starts; it has not started")


async def name_key(db: Database, legacy: NameKey) -> NameKey:
    """The own key, made at the first start. Replicas starting at once race on the insert; the one that makes
    the key also keeps the derived key if digests made with it exist already (they came before the own key)."""
    async with db.transaction() as session:
        made = NameKey.generate()
        inserted = cast(
            CursorResult[Any],
            await session.execute(
                upsert(session)(NameKeyRow.__table__)
                .values(name=OWN, key=made.key.hex(), created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["name"])
            ),
        )
        if inserted.rowcount == 1 and (await session.execute(select(exists().select_from(NameDigestRow)))).scalar():
            await session.execute(
                upsert(session)(NameKeyRow.__table__)
                .values(name=LEGACY, key=legacy.key.hex(), created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["name"])
            )
        rows = dict((await session.execute(select(NameKeyRow.name, NameKeyRow.key))).all())
    return NameKey(bytes.fromhex(rows[OWN]), (bytes.fromhex(rows[LEGACY]),) if LEGACY in rows else ())


class SqlScopedNames:
    """Name digests for the pages of one edition (anonymise.py: whose names a page scrubs)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_edition(self, edition: str) -> dict[str, NameKind]:
        query = (
            select(NameDigestRow.digest, NameDigestRow.kind)
            .join(TrioRow, TrioRow.registration_id == NameDigestRow.registration_id)
            .where(TrioRow.edition == edition)
        )
        digests: dict[str, NameKind] = {}
        for digest, kind in (await self.session.execute(query)).all():
            if digests.get(digest) != "always":
                digests[digest] = cast(NameKind, kind)
        return digests

    async def elsewhere(self, edition: str) -> dict[str, NameKind]:
        """The digests removed in any capitalisation of everyone not (or not yet known to be) in the edition."""
        query = (
            select(NameDigestRow.digest)
            .outerjoin(TrioRow, TrioRow.registration_id == NameDigestRow.registration_id)
            .where(NameDigestRow.kind == "always", or_(TrioRow.edition.is_(None), TrioRow.edition != edition))
            .distinct()
        )
        always: NameKind = "always"
        return dict.fromkeys((await self.session.execute(query)).scalars(), always)


async def municipalities_elsewhere(session: AsyncSession, edition: str) -> list[tuple[dict[str, Any], bool]]:
    """Each other edition's trios' municipality and whether the trio consented to its being named."""
    query = select(TrioRow.municipality, TrioRow.publish_municipality_name).where(
        TrioRow.municipality.is_not(None), or_(TrioRow.edition.is_(None), TrioRow.edition != edition)
    )
    return [(m, bool(ok)) for m, ok in (await session.execute(query)).all() if m]


class SqlFalsePositives:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_edition(self, edition: str) -> list[str]:
        query = select(FalsePositiveRow.phrase).where(FalsePositiveRow.edition == edition)
        return sorted((await self.session.execute(query)).scalars())

    async def add(self, edition: str, phrase: str, added_by: str | None) -> None:
        await self.session.execute(
            upsert(self.session)(FalsePositiveRow.__table__)
            .values(edition=edition, phrase=phrase, added_by=added_by, added_at=utcnow())
            .on_conflict_do_nothing(index_elements=["edition", "phrase"])
        )

    async def remove(self, edition: str, phrase: str) -> None:
        await self.session.execute(
            delete(FalsePositiveRow).where(FalsePositiveRow.edition == edition, FalsePositiveRow.phrase == phrase)
        )
