"""The session reports (drafts and published), the editions they belong to and the round publications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..domain import Edition, Instrument, PlannedSession, RoundPublication, SessionReport
from .tables import REPORT_FIELDS, EditionLockRow, EditionRow, RoundReportRow, SessionReportRow


def report_from_row(row: SessionReportRow) -> SessionReport:
    return SessionReport(
        edition=row.edition,
        session_number=row.session_number,
        **{f: getattr(row, f) for f in REPORT_FIELDS},
        instruments=[Instrument(i["name"], i["description"]) for i in row.instruments],
        marks={
            section: [[(m[0], m[1], m[2]) for m in item] for item in items]
            for section, items in (row.marks or {}).items()
        },
    )


def edition_from_row(row: EditionRow) -> Edition:
    return Edition(
        slug=row.slug,
        title=row.title,
        venue=row.venue,
        scheduled_at=row.scheduled_at,
        capacity=row.capacity,
        publish_reports_at_once=row.publish_reports_at_once,
        sessions=[
            PlannedSession(
                number=s["number"],
                title=s["title"],
                outcome=s["outcome"],
                starts_at=datetime.fromisoformat(s["starts_at"]),
            )
            for s in row.sessions
        ],
    )


class SqlReports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        query = select(SessionReportRow).where(
            SessionReportRow.edition == edition, SessionReportRow.session_number == session_number
        )
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
        row.marks = {section: [[list(m) for m in item] for item in items] for section, items in report.marks.items()}

    async def newest_first(self) -> list[SessionReport]:
        """The public reports: published, not retracted."""
        rows = await self.session.execute(
            select(SessionReportRow)
            .where(SessionReportRow.published_at.is_not(None), SessionReportRow.retracted_at.is_(None))
            .order_by(SessionReportRow.starts_at.desc(), SessionReportRow.session_number.desc())
        )
        return [report_from_row(r) for r in rows.scalars()]

    async def of_edition(self, edition: str) -> list[SessionReport]:
        rows = await self.session.execute(
            select(SessionReportRow)
            .where(SessionReportRow.edition == edition)
            .order_by(SessionReportRow.session_number)
        )
        return [report_from_row(r) for r in rows.scalars()]

    async def every(self, *, for_update: bool = False) -> list[SessionReport]:
        query = select(SessionReportRow).order_by(SessionReportRow.edition, SessionReportRow.session_number)
        if for_update:
            query = query.with_for_update()
        return [report_from_row(r) for r in (await self.session.execute(query)).scalars()]


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
        row.capacity = edition.capacity
        row.publish_reports_at_once = edition.publish_reports_at_once
        row.sessions = [
            {"number": s.number, "title": s.title, "outcome": s.outcome, "starts_at": s.starts_at.isoformat()}
            for s in edition.sessions
        ]

    async def by_slug(self, slugs: set[str]) -> dict[str, Edition]:
        if not slugs:
            return {}
        rows = await self.session.execute(select(EditionRow).where(EditionRow.slug.in_(slugs)))
        return {r.slug: edition_from_row(r) for r in rows.scalars()}

    async def every(self) -> list[Edition]:
        rows = await self.session.execute(select(EditionRow))
        return sorted((edition_from_row(r) for r in rows.scalars()), key=_first_session, reverse=True)


def _first_session(edition: Edition) -> datetime:
    return min((s.starts_at for s in edition.sessions), default=edition.scheduled_at)


class SqlRounds:
    """When each edition's round report was published or retracted."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, edition: str) -> None:
        """Take the edition's lock row (creating it if needed) until the transaction ends.

        The last session's report and the edition itself may be handled at the same moment by two replicas;
        without a common lock neither would see the other's uncommitted row and nobody would publish the round
        (or, in an edition that publishes at once, the session's summary).
        Inserting waits for a competing insert to commit; the row lock then orders the two.
        """
        table = EditionLockRow.__table__
        await self.session.execute(upsert(self.session)(table).values(edition=edition).on_conflict_do_nothing())
        await self.session.execute(select(EditionLockRow).where(EditionLockRow.edition == edition).with_for_update())

    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None:
        row = await self._row(edition, for_update=for_update)
        return RoundPublication(row.edition, row.published_at, row.retracted_at) if row else None

    async def _row(self, edition: str, *, for_update: bool = False) -> RoundReportRow | None:
        query = select(RoundReportRow).where(RoundReportRow.edition == edition)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def save(self, publication: RoundPublication) -> None:
        row = await self._row(publication.edition)
        if row is None:
            row = RoundReportRow(edition=publication.edition)
            self.session.add(row)
        row.published_at, row.retracted_at = publication.published_at, publication.retracted_at

    async def published(self) -> list[RoundPublication]:
        rows = await self.session.execute(
            select(RoundReportRow)
            .where(RoundReportRow.retracted_at.is_(None))
            .order_by(RoundReportRow.published_at.desc())
        )
        return [RoundPublication(r.edition, r.published_at, r.retracted_at) for r in rows.scalars()]
