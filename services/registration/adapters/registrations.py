"""The registrations repository: trios with their members, the state after intake, the status page's view, the
organisers' changes (a member replaced, a correction) and erasure of their personal data (also in the outbox).
The organisers' lists and detail are read in queries.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract import EVENTS_EXCHANGE
from shared.contract.registration import Approver, Case, Fee, Invoice

from ..amendments import TrioDetails
from ..domain import (
    ACTIVE_STATUSES,
    ERASED,
    Member,
    Registration,
    RegistrationState,
    RegistrationView,
    SessionView,
    erased_case,
    erased_event_data,
    sessions_of,
)
from .approval_requests import SqlApprovalRequests
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

    async def known(self, registration_ids: list[str]) -> set[str]:
        if not registration_ids:
            return set()
        rows = await self.session.execute(select(RegistrationRow.id).where(RegistrationRow.id.in_(registration_ids)))
        return set(rows.scalars())

    async def details(self, registration_id: str) -> TrioDetails:
        row = await self.session.get(RegistrationRow, registration_id)
        assert row is not None  # the caller holds its state, locked
        return TrioDetails(
            members=[_member(m) for m in await self._members(registration_id)],
            case=Case.model_validate(row.case),
            invoice=Invoice.model_validate(row.invoice) if row.invoice else None,
            fee=Fee.model_validate(row.fee),
        )

    async def _members(self, registration_id: str) -> list[MemberRow]:
        rows = await self.session.execute(
            select(MemberRow).where(MemberRow.registration_id == registration_id).order_by(MemberRow.position)
        )
        return list(rows.scalars())

    async def replace_member(self, registration_id: str, position: int, member: Member) -> None:
        """The row of the old member is overwritten, id included: nothing of them stays in the trio."""
        row = next(m for m in await self._members(registration_id) if m.position == position)
        old_id = row.id
        await self.session.execute(
            update(MemberRow)
            .where(MemberRow.id == old_id)
            .values(
                id=member.member_id,
                name=member.name,
                email=member.email,
                role=str(member.role),
                domain=str(member.domain),
                job_title=member.job_title,
                language=str(member.language),
            )
            .execution_options(synchronize_session=False)
        )
        self.session.expunge(row)  # its identity (the old id) no longer exists

        def blank(m: Any) -> Any:
            return {**m, "name": ERASED, "email": ERASED} if isinstance(m, dict) and m.get("member_id") == old_id else m

        def without_old_member(message_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
            # TrioRegistered lists the members; a MemberReplaced not yet published may have brought the old one in.
            if isinstance(data.get("members"), list):
                data = {**data, "members": [blank(m) for m in data["members"]]}
            if "member" in data:
                data = {**data, "member": blank(data["member"])}
            return data

        await self._rewrite_outbox(registration_id, without_old_member)

    async def correct(self, registration_id: str, case: Case | None, invoice: Invoice | None) -> None:
        values: dict[str, Any] = {}
        if case is not None:
            values["case"] = case.model_dump(mode="json")
        if invoice is not None:
            values["invoice"] = invoice.model_dump(mode="json")
        if values:
            await self.session.execute(
                update(RegistrationRow).where(RegistrationRow.id == registration_id).values(**values)
            )

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
        mailbox = (row.invoice or {}).get("email")  # the municipality's own invoice mailbox, if it gave one
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
        await SqlBilling(self.session).erase_recipient(registration_id, mailbox)
        await SqlApprovalRequests(self.session).forget(registration_id)
        await self._rewrite_outbox(registration_id, erased_event_data)

    async def _rewrite_outbox(
        self, registration_id: str, rewrite: Callable[[str, dict[str, Any]], dict[str, Any] | None]
    ) -> None:
        """Rewrite the registration's events still waiting in the outbox with `rewrite` (None: drop the event)."""
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
            data = rewrite(row.message_type, envelope["data"])
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

    async def registrations_of_members(self, edition: str, emails: list[str]) -> dict[str, str]:
        """The active registration of the edition each of these (lower-cased) addresses is in."""
        rows = await self.session.execute(
            select(MemberRow.email, MemberRow.registration_id)
            .join(RegistrationRow, RegistrationRow.id == MemberRow.registration_id)
            .where(
                RegistrationRow.edition == edition,
                RegistrationRow.status.in_(ACTIVE_STATUSES),
                MemberRow.email.in_(emails),
            )
        )
        return {email: registration_id for email, registration_id in rows}


def _member(row: MemberRow) -> Member:
    return Member(
        member_id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,  # type: ignore[arg-type]  # the column holds only Role values
        domain=row.domain,  # type: ignore[arg-type]
        job_title=row.job_title,
        language=row.language,  # type: ignore[arg-type]
    )
