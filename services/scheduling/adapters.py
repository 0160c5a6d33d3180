"""Scheduling's store: declarative models and the repositories the handlers use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from shared.db import InboxMixin, OutboxMixin, UtcDateTime, utcnow

from .domain import Edition, Session


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class EditionRow(Base):
    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_trios: Mapped[int] = mapped_column(Integer)
    max_trios: Mapped[int] = mapped_column(Integer)
    registration_deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    registration_closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority_size_classes: Mapped[list[str]] = mapped_column(JSON)
    table_size: Mapped[int] = mapped_column(Integer)
    placed: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sessions: Mapped[list[SessionRow]] = relationship(
        cascade="all, delete-orphan", order_by="SessionRow.number", lazy="raise"
    )


class SessionRow(Base):
    __tablename__ = "sessions"

    edition: Mapped[str] = mapped_column(ForeignKey("editions.slug", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(2000))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    present: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RegistrationCopy(Base):
    """Scheduling's copy of a registration (event-carried state from registration.TrioRegistered)."""

    __tablename__ = "registrations"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64), index=True)
    municipality: Mapped[str] = mapped_column(String(10))
    size_class: Mapped[str] = mapped_column(String(20))
    priority: Mapped[bool]
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)


SESSION_FIELDS = ("number", "title", "outcome", "starts_at", "ends_at", "sequence", "completed_at", "present", "notes")
EDITION_FIELDS = ("title", "venue", "min_trios", "max_trios", "registration_deadline", "registration_closes_at", "fee",
                  "priority_size_classes", "table_size", "placed")


def to_domain(row: EditionRow) -> Edition:
    return Edition(
        slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS},
        sessions=[Session(**{f: getattr(s, f) for f in SESSION_FIELDS}) for s in row.sessions],
    )


class SqlEditions:
    def __init__(self, session: AsyncSession, *, lock: bool = True) -> None:
        self.session = session
        self.lock = lock

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug).options(selectinload(EditionRow.sessions))
        if for_update and self.lock:
            # Competing replicas change one edition one at a time.
            query = query.with_for_update(of=EditionRow)
        row = (await self.session.execute(query)).scalar_one_or_none()
        return to_domain(row) if row else None

    async def all(self) -> list[Edition]:
        rows = (await self.session.execute(
            select(EditionRow).options(selectinload(EditionRow.sessions)).order_by(EditionRow.registration_deadline)
        )).scalars()
        return [to_domain(r) for r in rows]

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug, options=[selectinload(EditionRow.sessions)])
        if row is None:
            row = EditionRow(slug=edition.slug, sessions=[])
            self.session.add(row)
        for f in EDITION_FIELDS:
            setattr(row, f, getattr(edition, f))
        existing = {s.number: s for s in row.sessions}
        wanted = []
        for s in edition.sessions:
            session_row = existing.get(s.number) or SessionRow(number=s.number)
            for f in SESSION_FIELDS:
                setattr(session_row, f, getattr(s, f))
            wanted.append(session_row)
        row.sessions = wanted


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, registration_id: str, edition: str, municipality: str, size_class: str,
                  priority: bool, registered_at: datetime) -> None:
        if await self.session.get(RegistrationCopy, registration_id) is None:
            self.session.add(RegistrationCopy(
                registration_id=registration_id, edition=edition, municipality=municipality,
                size_class=size_class, priority=priority, registered_at=registered_at,
            ))

    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]:
        if not registration_ids:
            return {}
        rows = await self.session.execute(
            select(RegistrationCopy.registration_id, RegistrationCopy.municipality)
            .where(RegistrationCopy.registration_id.in_(registration_ids))
        )
        return {rid: code for rid, code in rows}
