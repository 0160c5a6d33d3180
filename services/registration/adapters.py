"""Registration's store (declarative models and repositories) and the municipality files."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime
from shared.settings import SettingsError

from .config import MUNICIPALITIES_FILE, RegistrationConfig
from .domain import ACTIVE_STATUSES, Edition, Municipality, MunicipalityRegister, Registration


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class EditionRow(Base):
    """Registration's copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    registration_closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority_size_classes: Mapped[list[str]] = mapped_column(JSON)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RegistrationRow(Base):
    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64), index=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    municipality_name: Mapped[str] = mapped_column(String(200))
    size_class: Mapped[str] = mapped_column(String(20))
    case: Mapped[dict[str, Any]] = mapped_column(JSON)
    approver: Mapped[dict[str, Any]] = mapped_column(JSON)
    consent: Mapped[dict[str, Any]] = mapped_column(JSON)
    invoice: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[bool]
    preferred_domain_mix: Mapped[bool]
    status: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    chat_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MemberRow(Base):
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(20))
    job_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(2))
    position: Mapped[int] = mapped_column(Integer)


EDITION_FIELDS = ("title", "registration_closes_at", "fee", "priority_size_classes", "sessions", "scheduled_at")


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug)
        if for_update:
            # Registrations of one edition take turns on PostgreSQL, so the check that a member is not
            # already registered sees every registration committed before. (SQLite ignores FOR UPDATE;
            # there the Database's write lock already serialises writers.)
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        return Edition(slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS})

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        for f in EDITION_FIELDS:
            setattr(row, f, getattr(edition, f))


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, registration: Registration) -> None:
        r = registration
        self.session.add(RegistrationRow(
            id=r.registration_id, edition=r.edition, municipality_code=r.municipality.code,
            municipality_name=r.municipality.name, size_class=r.municipality.size_class,
            case=r.case.model_dump(mode="json"), approver=r.approver.model_dump(mode="json"),
            consent=r.consent.model_dump(mode="json"),
            invoice=r.invoice.model_dump(mode="json") if r.invoice else None, fee=r.fee.model_dump(mode="json"),
            priority=r.priority, preferred_domain_mix=r.preferred_domain_mix, status=r.status,
            channel=str(r.channel), chat_id=r.chat_id, registered_at=r.registered_at,
        ))
        # Flush the parent first: the members' foreign key needs it, and the unit of work does not
        # order rows of unrelated mappers (there is no relationship() between the two).
        await self.session.flush()
        self.session.add_all(
            MemberRow(id=m.member_id, registration_id=r.registration_id, name=m.name, email=m.email,
                      role=str(m.role), domain=str(m.domain), job_title=m.job_title, language=str(m.language),
                      position=index)
            for index, m in enumerate(r.members)
        )

    async def overview(self, edition: str | None) -> list[dict[str, Any]]:
        """Registrations with their members, oldest first, for organisers."""
        query = select(RegistrationRow).order_by(RegistrationRow.registered_at)
        if edition:
            query = query.where(RegistrationRow.edition == edition)
        registrations = list((await self.session.execute(query)).scalars())
        members: dict[str, list[MemberRow]] = {}
        if registrations:
            rows = await self.session.execute(
                select(MemberRow).where(MemberRow.registration_id.in_([r.id for r in registrations]))
                .order_by(MemberRow.position))
            for m in rows.scalars():
                members.setdefault(m.registration_id, []).append(m)
        return [{
            "registration_id": r.id, "edition": r.edition, "status": r.status,
            "registered_at": r.registered_at.isoformat(),
            "municipality": {"code": r.municipality_code, "name": r.municipality_name, "size_class": r.size_class},
            "case": r.case, "fee": r.fee, "priority": r.priority, "preferred_domain_mix": r.preferred_domain_mix,
            "approver": r.approver, "channel": r.channel,
            "members": [{"name": m.name, "email": m.email, "role": m.role, "domain": m.domain,
                         "job_title": m.job_title, "language": m.language} for m in members.get(r.id, [])],
        } for r in registrations]

    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]:
        rows = await self.session.execute(
            select(MemberRow.email)
            .join(RegistrationRow, RegistrationRow.id == MemberRow.registration_id)
            .where(RegistrationRow.edition == edition, RegistrationRow.status.in_(ACTIVE_STATUSES),
                   MemberRow.email.in_(emails))
        )
        return set(rows.scalars())


def load_municipalities(config: RegistrationConfig, path: Path = MUNICIPALITIES_FILE) -> MunicipalityRegister:
    """The CBS municipalities, classified with the configured band and M50 member list."""
    m50 = _read_codes(config.m50_file)
    with path.open(encoding="utf-8", newline="") as f:
        return MunicipalityRegister(
            Municipality.classified(row["gm_code"], row["naam"], row["provincie"], int(row["inwoners"]),
                                    row["gm_code"] in m50, config.band)
            for row in csv.DictReader(f)
        )


def _read_codes(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if "gm_code" not in (reader.fieldnames or []):
            raise SettingsError(f"REGISTRATION_M50_FILE: {path} has no gm_code column")
        return {row["gm_code"].strip() for row in reader}
