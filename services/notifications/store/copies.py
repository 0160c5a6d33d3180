"""Notifications' copies of other services' state: editions (scheduling) and registrations (registration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract.registration import ApprovalRequested, TrioRegistered
from shared.db import upsert

from ..domain import STATUS_PLACED, ApprovalCopy, EditionInfo, RegistrationCopy, SessionInfo
from .tables import EditionRow, RegistrationRow


def _session_to_json(s: SessionInfo) -> dict[str, Any]:
    return {
        "number": s.number,
        "title": s.title,
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "outcome": s.outcome,
        "sequence": s.sequence,
    }


def _session_from_json(s: dict[str, Any]) -> SessionInfo:
    return SessionInfo(
        s["number"],
        s["title"],
        datetime.fromisoformat(s["starts_at"]),
        datetime.fromisoformat(s["ends_at"]),
        s.get("outcome", ""),
        s.get("sequence", 0),
    )


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The rows get() loaded, for save(): the session holds them only weakly, so without this they are gone by
        # then and save() would read each one again (a round trip per message).
        self._rows: dict[str, EditionRow] = {}

    async def get(self, slug: str, *, for_update: bool = False) -> EditionInfo | None:
        row = await self.session.get(EditionRow, slug, with_for_update=for_update or None, populate_existing=for_update)
        if row is None:
            return None
        self._rows[slug] = row
        return EditionInfo(
            slug=row.slug,
            title=row.title,
            venue=row.venue,
            registration_deadline=row.registration_deadline,
            sessions=[_session_from_json(s) for s in row.sessions],
            scheduled_at=row.scheduled_at,
            capacity=row.capacity,
        )

    async def save(self, edition: EditionInfo) -> None:
        row = self._rows.get(edition.slug) or await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        row.title = edition.title
        row.venue = edition.venue
        row.registration_deadline = edition.registration_deadline
        row.sessions = [_session_to_json(s) for s in edition.sessions]
        row.scheduled_at = edition.scheduled_at
        row.capacity = edition.capacity


def _approval_to_json(approval: ApprovalCopy) -> dict[str, Any]:
    return {
        "event_id": approval.event_id,
        "correlation_id": approval.correlation_id,
        "request": approval.request.model_dump(mode="json"),
    }


def _to_copy(row: RegistrationRow) -> RegistrationCopy:
    approval = None
    if row.approval:
        approval = ApprovalCopy(
            row.approval["event_id"],
            row.approval["correlation_id"],
            ApprovalRequested.model_validate(row.approval["request"]),
        )
    return RegistrationCopy(
        registration_id=row.registration_id,
        details=TrioRegistered.model_validate(row.details) if row.details else None,
        approval=approval,
        status=row.status,
        waitlist_position=row.waitlist_position,
        waitlisted_at=row.waitlisted_at,
        erased=row.erased,
    )


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[str, RegistrationRow] = {}  # what get() loaded, for save() (see SqlEditions)

    async def get(self, registration_id: str) -> RegistrationCopy | None:
        # Locked: two events about one registration (e.g. RegistrationCancelled and PlaceReleased) take turns.
        row = await self.session.get(RegistrationRow, registration_id, with_for_update=True, populate_existing=True)
        if row is None:
            return None
        self._rows[registration_id] = row
        return _to_copy(row)

    async def merge_details(self, details: TrioRegistered) -> RegistrationCopy:
        return await self._merge(
            details.registration_id, {"details": details.model_dump(mode="json"), "edition": details.edition}
        )

    async def merge_approval(self, registration_id: str, approval: ApprovalCopy) -> RegistrationCopy:
        return await self._merge(registration_id, {"approval": _approval_to_json(approval)})

    async def _merge(self, registration_id: str, values: dict[str, Any]) -> RegistrationCopy:
        """Insert or complete the copy in one statement. When the two halves arrive at once, the second waits for
        the first's commit and then sees both (ON CONFLICT DO UPDATE works on the latest committed row)."""
        self._rows.pop(registration_id, None)  # written past the ORM: a row loaded before is out of date
        table = RegistrationRow.__table__
        statement = (
            upsert(self.session)(table)
            .values(registration_id=registration_id, status="registered", erased=False, **values)
            .on_conflict_do_update(index_elements=["registration_id"], set_=values, where=~table.c.erased)
            .returning(*table.c)
        )
        found = (await self.session.execute(statement)).first()
        if found is None:  # erased: left as it is
            row = await self.session.get(RegistrationRow, registration_id, populate_existing=True)
            assert row is not None
            return _to_copy(row)
        return _to_copy(RegistrationRow(**found._mapping))

    async def save(self, copy: RegistrationCopy) -> None:
        row = self._rows.get(copy.registration_id) or await self.session.get(RegistrationRow, copy.registration_id)
        if row is None:
            row = RegistrationRow(registration_id=copy.registration_id)
            self.session.add(row)
        row.edition = copy.edition or row.edition
        row.details = copy.details.model_dump(mode="json") if copy.details else None
        row.approval = _approval_to_json(copy.approval) if copy.approval else None
        row.status = copy.status
        row.waitlist_position = copy.waitlist_position
        row.waitlisted_at = copy.waitlisted_at
        row.erased = copy.erased

    async def placed_in(self, edition: str) -> list[RegistrationCopy]:
        rows = await self.session.execute(
            select(RegistrationRow)
            .where(RegistrationRow.edition == edition, RegistrationRow.status == STATUS_PLACED, ~RegistrationRow.erased)
            .order_by(RegistrationRow.registration_id)
        )
        return [_to_copy(r) for r in rows.scalars()]
