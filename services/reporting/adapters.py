"""Reporting's store: declarative models and the repositories the handlers and pages use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime, utcnow

from .domain import Edition, Instrument, PlannedSession, SessionReport


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class EditionRow(Base):
    """Reporting's copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[dict[str, Any]] = mapped_column(JSON)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionReportRow(Base):
    """A held session's public report data, already anonymised. Pages are rendered from it on request."""

    __tablename__ = "session_reports"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    trios: Mapped[int] = mapped_column(Integer)
    municipalities: Mapped[int] = mapped_column(Integer)
    lessons: Mapped[list[str]] = mapped_column(JSON)
    instruments: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    quotes: Mapped[list[str]] = mapped_column(JSON)
    next_steps: Mapped[list[str]] = mapped_column(JSON)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


REPORT_FIELDS = ("title", "starts_at", "trios", "municipalities", "lessons", "quotes", "next_steps", "completed_at")


def report_from_row(row: SessionReportRow) -> SessionReport:
    return SessionReport(
        edition=row.edition, session_number=row.session_number, **{f: getattr(row, f) for f in REPORT_FIELDS},
        instruments=[Instrument(i["name"], i["description"]) for i in row.instruments],
    )


def edition_from_row(row: EditionRow) -> Edition:
    return Edition(
        slug=row.slug, title=row.title, venue=row.venue, scheduled_at=row.scheduled_at,
        sessions=[PlannedSession(number=s["number"], title=s["title"], outcome=s["outcome"],
                                 starts_at=datetime.fromisoformat(s["starts_at"])) for s in row.sessions],
    )


class SqlReports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        query = select(SessionReportRow).where(SessionReportRow.edition == edition,
                                               SessionReportRow.session_number == session_number)
        if for_update:
            # Two versions of one session's report, handled by competing replicas, are applied one after the other.
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        return report_from_row(row) if row else None

    async def save(self, report: SessionReport) -> None:
        row = await self.session.get(SessionReportRow, (report.edition, report.session_number))
        if row is None:
            row = SessionReportRow(edition=report.edition, session_number=report.session_number)
            self.session.add(row)
        for f in REPORT_FIELDS:
            setattr(row, f, getattr(report, f))
        row.instruments = [{"name": i.name, "description": i.description} for i in report.instruments]

    async def newest_first(self) -> list[SessionReport]:
        rows = await self.session.execute(
            select(SessionReportRow).order_by(SessionReportRow.starts_at.desc(),
                                              SessionReportRow.session_number.desc())
        )
        return [report_from_row(r) for r in rows.scalars()]


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        return edition_from_row(row) if row else None

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        row.title = edition.title
        row.venue = edition.venue
        row.scheduled_at = edition.scheduled_at
        row.sessions = [{"number": s.number, "title": s.title, "outcome": s.outcome,
                         "starts_at": s.starts_at.isoformat()} for s in edition.sessions]

    async def by_slug(self, slugs: set[str]) -> dict[str, Edition]:
        if not slugs:
            return {}
        rows = await self.session.execute(select(EditionRow).where(EditionRow.slug.in_(slugs)))
        return {r.slug: edition_from_row(r) for r in rows.scalars()}
