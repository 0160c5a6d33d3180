"""Scheduling's store: declarative models and the repositories the handlers use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from shared.db import InboxMixin, OutboxMixin, UtcDateTime, utcnow

from .domain import Edition, Placement, Session, WaitEntry


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
    registration_deadline: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    registration_closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority_size_classes: Mapped[list[str]] = mapped_column(JSON)
    table_size: Mapped[int] = mapped_column(Integer)
    # Set once, by whichever replica runs the allocation first (under the row lock); never cleared.
    allocated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    undersubscribed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Set by an early CloseRegistration (the closing moment as scheduled), for ReopenRegistration.
    planned_closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    publish_reports_at_once: Mapped[bool] = mapped_column(Boolean, default=False)
    # How many trios hold a place, kept by every writer of placements under the row lock: admitting a trio
    # reads this instead of counting the edition's places.
    placed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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


class PlacementRow(Base):
    """A trio with a place. The unique slot makes a double-filled place impossible even for competing writers."""

    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("edition", "slot", name="uq_placements_edition_slot"),)

    edition: Mapped[str] = mapped_column(ForeignKey("editions.slug", ondelete="CASCADE"), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(20))
    priority: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    hand_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class WaitlistRow(Base):
    """A trio on the waitlist; positions are unique per edition, so there can be no duplicate position."""

    __tablename__ = "waitlist"
    __table_args__ = (
        UniqueConstraint("edition", "position", name="uq_waitlist_edition_position"),
        # The allocation order (domain.rank): where an admitted trio joins is one step down this index.
        Index("ix_waitlist_rank", "edition", "priority", "registered_at", "registration_id"),
    )

    edition: Mapped[str] = mapped_column(ForeignKey("editions.slug", ondelete="CASCADE"), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    priority: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    hand_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SeatRow(Base):
    """A trio's table at one session. One row per trio and session, so a trio joining a table writes its own rows
    and nobody else's."""

    __tablename__ = "seats"
    __table_args__ = (Index("ix_seats_table", "edition", "session_number", "table_number"),)

    edition: Mapped[str] = mapped_column(ForeignKey("editions.slug", ondelete="CASCADE"), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_number: Mapped[int] = mapped_column(Integer)


class SeatingTableRow(Base):
    """How many trios sit at a table of a session: the tables with room are found through the index on
    `seated` without counting the seats of every table."""

    __tablename__ = "seating_tables"
    __table_args__ = (Index("ix_seating_tables_room", "edition", "session_number", "seated"),)

    edition: Mapped[str] = mapped_column(ForeignKey("editions.slug", ondelete="CASCADE"), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    seated: Mapped[int] = mapped_column(Integer)


class RegistrationCopy(Base):
    """Scheduling's copy of a registration (event-carried state from registration.TrioRegistered)."""

    __tablename__ = "registrations"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64), index=True)
    municipality: Mapped[str] = mapped_column(String(10))
    size_class: Mapped[str] = mapped_column(String(20))
    priority: Mapped[bool]
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class RegistrationStatusRow(Base):
    """The registration's decision as far as scheduling heard of it: approved, declined or cancelled.

    Kept apart from the copy so an approval that overtakes its TrioRegistered can be recorded on its own.
    """

    __tablename__ = "registration_status"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


SESSION_FIELDS = ("number", "title", "outcome", "starts_at", "ends_at", "sequence", "completed_at", "present", "notes")
EDITION_FIELDS = (
    "title",
    "venue",
    "min_trios",
    "max_trios",
    "registration_deadline",
    "registration_closes_at",
    "fee",
    "priority_size_classes",
    "table_size",
    "allocated_at",
    "undersubscribed",
    "planned_closes_at",
    "publish_reports_at_once",
)
PLACEMENT_FIELDS = ("registration_id", "slot", "via", "priority", "registered_at", "placed_at", "hand_reason")
WAIT_FIELDS = ("registration_id", "position", "priority", "registered_at", "since", "hand_reason")


def waitlist_length(edition: Any) -> Any:
    """An edition's waitlist length as a scalar expression: positions are 1..n without gaps, so the last one is
    the length, one step down the unique index instead of a count."""
    last = select(func.max(WaitlistRow.position)).where(WaitlistRow.edition == edition).scalar_subquery()
    return func.coalesce(last, 0)


def to_domain(row: EditionRow, placements: list[Any], waitlist: list[Any]) -> Edition:
    return Edition(
        slug=row.slug,
        **{f: getattr(row, f) for f in EDITION_FIELDS},
        sessions=[Session(**{f: getattr(s, f) for f in SESSION_FIELDS}) for s in row.sessions],
        placements=[Placement(**{f: getattr(p, f) for f in PLACEMENT_FIELDS}) for p in placements],
        waitlist=[WaitEntry(**{f: getattr(w, f) for f in WAIT_FIELDS}) for w in waitlist],
    )


class SqlEditions:
    def __init__(self, session: AsyncSession, *, lock: bool = True) -> None:
        self.session = session
        self.locking = lock
        # What get() read, so save() writes only the difference: a writer that lost a race then collides
        # with the other's rows on the unique constraints instead of silently overwriting them. No waitlist
        # (None) when get() left it out: save() then leaves the waitlist's rows alone.
        self._read: dict[str, tuple[set[str], list[tuple[Any, ...]] | None]] = {}
        # The edition rows get() loaded, for save(): the session holds them only weakly, so without this save()
        # would read the edition and its sessions again (two round trips per admission).
        self._rows: dict[str, EditionRow] = {}

    async def get(
        self, slug: str, *, for_update: bool = False, waitlist: bool = True, places: bool = True
    ) -> Edition | None:
        """The edition with its sessions and places; with waitlist=False its waitlist is left empty (not read),
        for the use cases that change the waitlist with set-based statements (SqlWaitlist); with places=False
        its places and waitlist are left empty too, for admitting one trio (SqlPlaces, SqlWaitlist), and it
        must not be saved."""
        query = select(EditionRow).where(EditionRow.slug == slug).options(selectinload(EditionRow.sessions))
        if for_update and self.locking:
            # Competing replicas change one edition (its places, waitlist, seating) one at a time.
            query = query.with_for_update(of=EditionRow)
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        self._rows[slug] = row
        if not places:
            self._read.pop(slug, None)
            return to_domain(row, [], [])
        placements, waiting = await self._places(slug, waitlist=waitlist)
        self._read[slug] = ({p.registration_id for p in placements}, [_entry(w) for w in waiting] if waitlist else None)
        return to_domain(row, placements, waiting)

    async def lock(self, slug: str) -> bool:
        query = select(EditionRow.slug).where(EditionRow.slug == slug)
        if self.locking:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none() is not None

    async def all(self, *, places: bool = True) -> list[Edition]:
        """Every edition, by deadline; with places=False without their places and waitlists (see counts)."""
        rows = (
            (
                await self.session.execute(
                    select(EditionRow)
                    .options(selectinload(EditionRow.sessions))
                    .order_by(EditionRow.registration_deadline)
                )
            )
            .scalars()
            .all()
        )
        return [to_domain(r, *(await self._places(r.slug) if places else ([], []))) for r in rows]

    async def counts(self, slugs: list[str]) -> dict[str, tuple[int, int]]:
        """Per edition: how many trios hold a place and how many wait, without reading them."""
        rows = await self.session.execute(
            select(EditionRow.slug, EditionRow.placed, waitlist_length(EditionRow.slug)).where(
                EditionRow.slug.in_(slugs)
            )
        )
        return {slug: (placed, waitlisted) for slug, placed, waitlisted in rows.all()}

    async def due(self, now: datetime) -> list[str]:
        """Editions whose deadline has passed and that have not been allocated yet."""
        rows = await self.session.execute(
            select(EditionRow.slug)
            .where(EditionRow.allocated_at.is_(None), EditionRow.registration_deadline <= now)
            .order_by(EditionRow.registration_deadline)
        )
        return list(rows.scalars())

    async def _places(self, slug: str, *, waitlist: bool = True) -> tuple[list[Any], list[Any]]:
        # Plain rows, not ORM objects: save() rewrites these tables with bulk statements.
        placements = PlacementRow.__table__
        placed = (
            await self.session.execute(
                select(placements).where(placements.c.edition == slug).order_by(placements.c.slot)
            )
        ).all()
        if not waitlist:
            return list(placed), []
        table = WaitlistRow.__table__
        waiting = (
            await self.session.execute(select(table).where(table.c.edition == slug).order_by(table.c.position))
        ).all()
        return list(placed), list(waiting)

    async def save(self, edition: Edition) -> None:
        assert edition.slug in self._read or edition.slug not in self._rows, "read without its places: not saved"
        row = self._rows.get(edition.slug) or await self.session.get(
            EditionRow, edition.slug, options=[selectinload(EditionRow.sessions)]
        )
        if row is None:
            row = EditionRow(slug=edition.slug, sessions=[])
            self.session.add(row)
        for f in EDITION_FIELDS:
            setattr(row, f, getattr(edition, f))
        row.placed = len(edition.placements)
        existing = {s.number: s for s in row.sessions}
        wanted = []
        for s in edition.sessions:
            session_row = existing.get(s.number) or SessionRow(number=s.number)
            for f in SESSION_FIELDS:
                setattr(session_row, f, getattr(s, f))
            wanted.append(session_row)
        row.sessions = wanted
        await self.session.flush()
        await self._save_places(edition)

    async def _save_places(self, edition: Edition) -> None:
        placed, read = self._read.get(edition.slug, (set(), []))
        wanted = {p.registration_id: p for p in edition.placements}
        gone = placed - set(wanted)
        if gone:
            await self.session.execute(
                delete(PlacementRow).where(PlacementRow.edition == edition.slug, PlacementRow.registration_id.in_(gone))
            )
        new = [p for rid, p in wanted.items() if rid not in placed]
        if new:
            await self.session.execute(
                insert(PlacementRow),
                [{"edition": edition.slug, **{f: getattr(p, f) for f in PLACEMENT_FIELDS}} for p in new],
            )
        if read is None:
            # Read without its waitlist: whatever changed the waitlist did so itself (SqlWaitlist).
            assert not edition.waitlist, "an edition read without its waitlist cannot save one"
            self._read[edition.slug] = (set(wanted), None)
            return
        waiting = read
        after = [_entry(w) for w in edition.waitlist]
        if waiting != after:
            # Only the entries that left, joined or moved are written: a trio joining the end of a long waitlist
            # is one row, not the whole list again (which made a burst of admissions quadratic). Every entry
            # that moved is deleted before any is inserted, so no position is held twice midway.
            kept = set(waiting) & set(after)
            stale = [entry[0] for entry in waiting if entry not in kept]
            fresh = [entry for entry in after if entry not in kept]
            if stale:
                await self.session.execute(
                    delete(WaitlistRow).where(
                        WaitlistRow.edition == edition.slug, WaitlistRow.registration_id.in_(stale)
                    )
                )
            if fresh:
                await self.session.execute(
                    insert(WaitlistRow),
                    [{"edition": edition.slug, **dict(zip(WAIT_FIELDS, entry, strict=True))} for entry in fresh],
                )
        self._read[edition.slug] = (set(wanted), after)


def _entry(waiting: Any) -> tuple[Any, ...]:
    """A waitlist entry as its row holds it (a row read back, or the domain's entry about to be saved)."""
    return tuple(getattr(waiting, f) for f in WAIT_FIELDS)
