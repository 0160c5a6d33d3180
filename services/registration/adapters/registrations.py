"""The registrations repository: trios with their members, the state after intake, the organisers' overview and
the status page's view, and erasure of their personal data (also in the outbox)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract import EVENTS_EXCHANGE
from shared.contract.registration import Approver, Case, Fee

from ..domain import (
    ACTIVE_STATUSES,
    ERASED,
    Registration,
    RegistrationState,
    RegistrationView,
    SessionView,
    erased_case,
    erased_event_data,
    sessions_of,
)
from .billing_store import SqlBilling
from .copies import SqlEditions, SqlSeating
from .tables import EditionRow, MemberRow, Outbox, RegistrationRow

STATE_FIELDS = (
    "approval_expires_at",
    "waitlist_position",
    "decided_at",
    "decided_by_organizer",
    "decision_reason",
    "cancelled_at",
    "cancel_reason",
    "placement_updated_at",
    "erased_at",
)


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, registration: Registration) -> None:
        r = registration
        self.session.add(
            RegistrationRow(
                id=r.registration_id,
                edition=r.edition,
                municipality_code=r.municipality.code,
                municipality_name=r.municipality.name,
                size_class=r.municipality.size_class,
                case=r.case.model_dump(mode="json"),
                approver=r.approver.model_dump(mode="json"),
                consent=r.consent.model_dump(mode="json"),
                invoice=r.invoice.model_dump(mode="json") if r.invoice else None,
                fee=r.fee.model_dump(mode="json"),
                priority=r.priority,
                preferred_domain_mix=r.preferred_domain_mix,
                status=r.status,
                channel=str(r.channel),
                chat_id=r.chat_id,
                registered_at=r.registered_at,
                approval_expires_at=r.approval_expires_at,
            )
        )
        # Flush the parent first: the members' foreign key needs it, and the unit of work does not
        # order rows of unrelated mappers (there is no relationship() between the two).
        await self.session.flush()
        self.session.add_all(
            MemberRow(
                id=m.member_id,
                registration_id=r.registration_id,
                name=m.name,
                email=m.email,
                role=str(m.role),
                domain=str(m.domain),
                job_title=m.job_title,
                language=str(m.language),
                position=index,
            )
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
                select(MemberRow)
                .where(MemberRow.registration_id.in_([r.id for r in registrations]))
                .order_by(MemberRow.position)
            )
            for m in rows.scalars():
                members.setdefault(m.registration_id, []).append(m)
        return [
            {
                "registration_id": r.id,
                "edition": r.edition,
                "status": r.status,
                "waitlist_position": r.waitlist_position,
                "registered_at": r.registered_at.isoformat(),
                "approval_expires_at": _iso(r.approval_expires_at),
                "decided_at": _iso(r.decided_at),
                "decided_by_organizer": r.decided_by_organizer,
                "decision_reason": r.decision_reason,
                "cancelled_at": _iso(r.cancelled_at),
                "cancel_reason": r.cancel_reason,
                "erased": r.erased_at is not None,
                "invoice": r.invoice,
                "municipality": {"code": r.municipality_code, "name": r.municipality_name, "size_class": r.size_class},
                "case": r.case,
                "fee": r.fee,
                "priority": r.priority,
                "preferred_domain_mix": r.preferred_domain_mix,
                "approver": r.approver,
                "channel": r.channel,
                "members": [
                    {
                        "name": m.name,
                        "email": m.email,
                        "role": m.role,
                        "domain": m.domain,
                        "job_title": m.job_title,
                        "language": m.language,
                    }
                    for m in members.get(r.id, [])
                ],
            }
            for r in registrations
        ]

    async def view(self, registration_id: str) -> RegistrationView | None:
        """The registration as its status and approval pages show it; None if there is no such registration."""
        row = await self.session.get(RegistrationRow, registration_id)
        if row is None:
            return None
        edition = await self.session.get(EditionRow, row.edition)
        members = (
            await self.session.execute(
                select(MemberRow).where(MemberRow.registration_id == registration_id).order_by(MemberRow.position)
            )
        ).scalars()
        return RegistrationView(
            registration_id=row.id,
            edition=row.edition,
            edition_title=edition.title if edition else row.edition,
            status=row.status,  # type: ignore[arg-type]  # the column holds only Status values
            waitlist_position=row.waitlist_position,
            municipality_name=row.municipality_name,
            size_class=row.size_class,  # type: ignore[arg-type]
            case=Case.model_validate(row.case),
            fee=Fee.model_validate(row.fee),
            members=[(m.name, m.role, m.domain) for m in members],
            approver_name=row.approver["name"],
            approval_expires_at=row.approval_expires_at,
            registered_at=row.registered_at,
            erased=row.erased_at is not None,
            sessions=await self._sessions(row) if edition is not None and row.status == "placed" else [],
        )

    async def _sessions(self, row: RegistrationRow) -> list[SessionView]:
        edition = await SqlEditions(self.session).get(row.edition)
        assert edition is not None  # the caller saw it
        return sessions_of(edition, await SqlSeating(self.session).tables_of(row.edition, row.id))

    async def get_state(self, registration_id: str, *, for_update: bool = False) -> RegistrationState | None:
        query = select(RegistrationRow).where(RegistrationRow.id == registration_id)
        if for_update:
            # Decisions, cancellation, scheduling's events and erasure of one registration take turns.
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        return RegistrationState(
            registration_id=row.id,
            edition=row.edition,
            status=row.status,  # type: ignore[arg-type]
            approver=Approver.model_construct(**row.approver),  # erased: no longer a valid address
            **{f: getattr(row, f) for f in STATE_FIELDS},
        )

    async def save_state(self, state: RegistrationState) -> None:
        await self.session.execute(
            update(RegistrationRow)
            .where(RegistrationRow.id == state.registration_id)
            .values(status=state.status, **{f: getattr(state, f) for f in STATE_FIELDS})
        )

    async def erase(self, registration_id: str, now: datetime) -> None:
        """Replace the registration's personal data and free text, also in its messages not yet published."""
        row = await self.session.get(RegistrationRow, registration_id)
        assert row is not None
        row.erased_at = now
        row.case = erased_case(row.case)
        row.approver = {"name": ERASED, "email": ERASED}
        row.invoice = {"address": ERASED, "reference": ERASED} if row.invoice else None
        row.chat_id = None
        row.decision_reason = ERASED if row.decision_reason else None
        row.cancel_reason = ERASED if row.cancel_reason else None
        await self.session.execute(
            update(MemberRow)
            .where(MemberRow.registration_id == registration_id)
            .values(name=ERASED, email=ERASED, job_title=None)
        )
        await SqlBilling(self.session).erase_recipient(registration_id)
        await self._erase_outbox(registration_id)

    async def _erase_outbox(self, registration_id: str) -> None:
        # The outbox is nearly always empty (the relay publishes within milliseconds), so reading our events in
        # it is cheap. FOR UPDATE waits for a relay that is publishing a row right now; it then finds it gone.
        # Locking in position order, as the relay does, keeps two erasures from deadlocking on each other's rows.
        rows = (
            (
                await self.session.execute(
                    select(Outbox)
                    .where(Outbox.exchange == EVENTS_EXCHANGE, Outbox.routing_key.like("registration.%"))
                    .order_by(Outbox.position)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            envelope = json.loads(row.body)
            if envelope.get("data", {}).get("registration_id") != registration_id:
                continue
            data = erased_event_data(row.message_type, envelope["data"])
            if data is None:
                await self.session.execute(delete(Outbox).where(Outbox.position == row.position))
            else:
                row.body = json.dumps({**envelope, "data": data}, ensure_ascii=False).encode()

    async def unerased_of_editions(self, editions: list[str]) -> list[str]:
        if not editions:
            return []
        rows = await self.session.execute(
            select(RegistrationRow.id)
            .where(RegistrationRow.edition.in_(editions), RegistrationRow.erased_at.is_(None))
            .order_by(RegistrationRow.registered_at)
        )
        return list(rows.scalars())

    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]:
        rows = await self.session.execute(
            select(MemberRow.email)
            .join(RegistrationRow, RegistrationRow.id == MemberRow.registration_id)
            .where(
                RegistrationRow.edition == edition,
                RegistrationRow.status.in_(ACTIVE_STATUSES),
                MemberRow.email.in_(emails),
            )
        )
        return set(rows.scalars())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
