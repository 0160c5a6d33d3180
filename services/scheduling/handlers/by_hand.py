"""Organisers' decisions on places: placing a trio by hand, moving a trio on the waitlist.

Both lock the edition and read its places, but not its waitlist: the waitlist changes in place (Waitlist), so a
move costs one trio's row plus a renumbering in SQL, and the only work that grows with the waitlist is the
TrioWaitlisted announced for each trio whose position changed (the contract promises those)."""

from __future__ import annotations

from datetime import datetime

from shared.contract.scheduling import MoveOnWaitlist, PlaceTrio
from shared.messaging.messages import CommandRefused, not_yet_known, refuse

from ..domain import Edition, Trio, Via, WaitEntry
from .events import emit_outcomes
from .placement import apply_outcomes
from .ports import APPROVED, CANCELLED, DECLINED, Editions, Emit, Registrations, Seats, Waitlist, edition_of


async def place_trio(
    cmd: PlaceTrio,
    *,
    editions: Editions,
    registrations: Registrations,
    waitlist: Waitlist,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> dict[str, object]:
    edition = await edition_of(editions, cmd.edition, waitlist=False)
    if edition.placement(cmd.registration_id) is not None:
        raise _already_placed()
    entry = await waitlist.entry(edition.slug, cmd.registration_id)
    trio: Trio | None
    via: Via
    if entry is not None:
        trio, via = Trio(entry.registration_id, entry.priority, entry.registered_at), "waitlist"
    else:
        # Approved but neither placed nor waitlisted: before the allocation, a trio in the pool.
        trio, via = await _approved_in_pool(edition, cmd.registration_id, registrations), "direct"
    problem = edition.hand_placement_problem(now)
    if problem is not None:
        raise refuse(*problem)
    placed = edition.place_by_hand(trio, via, cmd.reason, now)
    moved = await waitlist.leave(edition.slug, entry) if entry is not None else []
    await apply_outcomes(edition, [placed, *moved], registrations=registrations, seats=seats, emit=emit, now=now)
    await editions.save(edition)
    place = edition.placement(cmd.registration_id)
    assert place is not None
    return {"edition": edition.slug, "registration_id": cmd.registration_id, "place": place.slot, "via": via}


async def move_on_waitlist(
    cmd: MoveOnWaitlist,
    *,
    editions: Editions,
    registrations: Registrations,
    waitlist: Waitlist,
    emit: Emit,
    now: datetime,
) -> dict[str, object]:
    edition = await edition_of(editions, cmd.edition, waitlist=False)
    entry = await _waiting(edition, cmd.registration_id, registrations, waitlist)
    length = await waitlist.length(edition.slug)
    if cmd.position > length:
        raise refuse(
            "position",
            "position_out_of_range",
            f"De wachtlijst telt {length} trio's; kies een plek van 1 tot en met {length}.",
        )
    ids: dict[str, object] = {
        "edition": edition.slug,
        "registration_id": entry.registration_id,
        "position": cmd.position,
        "previous_position": entry.position,
    }
    if cmd.position != entry.position:
        emit_outcomes(edition, await waitlist.move(edition.slug, entry, cmd.position, cmd.reason), emit)
    return ids


async def _approved_in_pool(edition: Edition, registration_id: str, registrations: Registrations) -> Trio:
    await _of_this_edition(edition, registration_id, registrations)
    status = await registrations.status(registration_id)
    trio = await registrations.trio(registration_id)
    if status is None:
        # Registration may have approved it a moment ago (the organiser saw it there): wait for the approval.
        raise not_yet_known("registration_id", "not_waitlisted", _not_waitlisted(status))
    if status != APPROVED or trio is None:
        raise refuse("registration_id", "not_waitlisted", _not_waitlisted(status))
    return trio


async def _waiting(
    edition: Edition, registration_id: str, registrations: Registrations, waitlist: Waitlist
) -> WaitEntry:
    entry = await waitlist.entry(edition.slug, registration_id)
    if entry is not None:
        return entry
    if edition.placement(registration_id) is not None:
        raise _already_placed()
    await _of_this_edition(edition, registration_id, registrations)
    status = await registrations.status(registration_id)
    if status is None:
        # An approval on its way is admitted (placed or waitlisted) the moment it arrives: wait for it.
        raise not_yet_known("registration_id", "not_waitlisted", _not_waitlisted(status))
    raise refuse("registration_id", "not_waitlisted", _not_waitlisted(status))


async def _of_this_edition(edition: Edition, registration_id: str, registrations: Registrations) -> None:
    of = await registrations.edition(registration_id)
    if of is None:
        # Registration announces every trio (TrioRegistered); our copy of this one may still be on its way.
        raise not_yet_known("registration_id", "unknown_registration", "Deze aanmelding hoort niet bij deze editie.")
    if of != edition.slug:
        raise refuse("registration_id", "unknown_registration", "Deze aanmelding hoort niet bij deze editie.")


def _already_placed() -> CommandRefused:
    return refuse("registration_id", "already_placed", "Dit trio heeft al een plaats.")


def _not_waitlisted(status: str | None) -> str:
    if status in (DECLINED, CANCELLED):
        return "Dit trio is afgewezen of heeft zich afgemeld; het staat niet op de wachtlijst."
    if status != APPROVED:
        return "Dit trio is nog niet goedgekeurd; het staat niet op de wachtlijst."
    return "Dit trio staat niet op de wachtlijst."
