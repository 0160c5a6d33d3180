"""Allocation and placement: allocating (CloseRegistration, the deadline), stopping and reopening registration,
admitting approved trios, releasing places, seating.

Registration events may reach scheduling in another order than they were published (competing
consumers, retries). None is dropped: each records what it says (the copy of the trio, or its decision)
and the trio is admitted as soon as both are known, whichever came last.

Admitting a trio reads neither the edition's places nor its waitlist (Places, Waitlist): a count, the trio's
own rows, and the tables with room at each session (Seats). It costs the same for the tenth trio as for the
five-thousandth."""

from __future__ import annotations

from datetime import datetime

from shared.contract.registration import (
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    CloseRegistration,
    RegistrationClosed,
    RegistrationReopened,
    RegistrationStopped,
    ReopenRegistration,
    StopRegistration,
)
from shared.messaging.messages import refuse

from ..domain import Edition, Outcome, Placed, Released, Trio, WaitEntry
from .events import edition_scheduled, emit_outcomes
from .ports import APPROVED, CANCELLED, DECLINED, Editions, Emit, Places, Registrations, Seats, Waitlist, edition_of
from .seating import plan_anew, seat_joining, unseat_leaving

# Allocation


async def close_registration(
    cmd: CloseRegistration, *, editions: Editions, registrations: Registrations, seats: Seats, emit: Emit, now: datetime
) -> dict[str, str]:
    """Allocate now. Registration stays open until its closing moment: late trios are admitted (Edition.admit)."""
    edition = await edition_of(editions, cmd.edition)
    problem = edition.allocation_problem()
    if problem is not None:
        raise refuse(*problem)
    edition.allocate_now(now)
    # Registration keeps a copy of the edition: this is how its form learns that places are allocated.
    emit(edition_scheduled(edition))
    await _allocate(edition, registrations=registrations, seats=seats, emit=emit, now=now)
    await editions.save(edition)
    return {"edition": edition.slug}


async def stop_registration(cmd: StopRegistration, *, editions: Editions, emit: Emit, now: datetime) -> dict[str, str]:
    """Stop registration now, without allocating (that stays the deadline's, or CloseRegistration's, work)."""
    edition = await edition_of(editions, cmd.edition, waitlist=False)
    problem = edition.stop_problem(now)
    if problem is not None:
        raise refuse(*problem)
    edition.stop_now(now)
    await editions.save(edition)
    # Registration (and every other copy of the edition) learns from this that new trios are refused.
    emit(edition_scheduled(edition))
    assert edition.planned_closes_at is not None  # set by stop_now
    emit(
        RegistrationStopped(
            edition=edition.slug, stopped_at=now, reopen_until=edition.planned_closes_at, reason=cmd.reason or None
        )
    )
    return {"edition": edition.slug, "reopen_until": edition.planned_closes_at.isoformat()}


async def reopen_registration(
    cmd: ReopenRegistration, *, editions: Editions, emit: Emit, now: datetime
) -> dict[str, str]:
    """Open registration again after a stop, until the closing moment it was scheduled for."""
    edition = await edition_of(editions, cmd.edition, waitlist=False)
    problem = edition.reopen_problem(now)
    if problem is not None:
        raise refuse(*problem)
    edition.reopen()
    await editions.save(edition)
    # Registration (and every other copy of the edition) learns from this that the form may offer it again.
    emit(edition_scheduled(edition))
    emit(RegistrationReopened(edition=edition.slug, registration_closes_at=edition.registration_closes_at))
    return {"edition": edition.slug, "registration_closes_at": edition.registration_closes_at.isoformat()}


async def allocate_if_due(
    slug: str, *, editions: Editions, registrations: Registrations, seats: Seats, emit: Emit, now: datetime
) -> bool:
    """The deadline timer's work for one edition. Every replica may call it; the first one allocates."""
    edition = await editions.get(slug, for_update=True)
    if edition is None or not edition.allocation_due(now):
        return False
    await _allocate(edition, registrations=registrations, seats=seats, emit=emit, now=now)
    await editions.save(edition)
    return True


async def _allocate(edition: Edition, *, registrations: Registrations, seats: Seats, emit: Emit, now: datetime) -> None:
    outcomes = edition.allocate(await registrations.pool(edition.slug), now)
    emit_outcomes(edition, outcomes, emit)
    emit(
        RegistrationClosed(
            edition=edition.slug,
            placed=edition.placed_ids,
            waitlisted=edition.waitlisted_ids,
            undersubscribed=bool(edition.undersubscribed),
        )
    )
    await plan_anew(edition, registrations=registrations, seats=seats, emit=emit, now=now)


# Registration events


async def remember_registration(
    event: TrioRegistered,
    *,
    editions: Editions,
    registrations: Registrations,
    places: Places,
    waitlist: Waitlist,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> None:
    # The lock, not the edition: a registration is not approved yet as a rule. The lock still orders this
    # against a concurrent approval of the same trio, so one of the two always sees the other.
    known = await editions.lock(event.edition)
    trio = Trio(
        registration_id=event.registration_id,
        priority=event.priority,
        registered_at=event.registered_at,
        municipality=event.municipality.code,
        size_class=event.municipality.size_class,
        domains=tuple(sorted({m.domain.value for m in event.members})),
    )
    await registrations.add(event.edition, trio)
    if known and await registrations.status(trio.registration_id) == APPROVED:
        # The approval overtook this event: admit the trio now.
        edition = await editions.get(event.edition, for_update=True, places=False)
        assert edition is not None  # locked above, and editions are never deleted
        await _admit(
            edition,
            trio,
            registrations=registrations,
            places=places,
            waitlist=waitlist,
            seats=seats,
            emit=emit,
            now=now,
        )


async def registration_approved(
    event: RegistrationApproved,
    *,
    editions: Editions,
    registrations: Registrations,
    places: Places,
    waitlist: Waitlist,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> None:
    edition = await editions.get(event.edition, for_update=True, places=False)
    if await registrations.status(event.registration_id) is not None:
        return  # already approved, or declined/cancelled: an approval does not bring a trio back
    await registrations.set_status(event.registration_id, event.edition, APPROVED, event.approved_at)
    trio = await registrations.trio(event.registration_id)
    if edition is not None and trio is not None:
        await _admit(
            edition,
            trio,
            registrations=registrations,
            places=places,
            waitlist=waitlist,
            seats=seats,
            emit=emit,
            now=now,
        )


async def registration_left(
    event: RegistrationDeclined | RegistrationCancelled,
    *,
    editions: Editions,
    registrations: Registrations,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> None:
    """Declined or cancelled: out of the pool and the waitlist; a placed trio frees its place."""
    status = DECLINED if isinstance(event, RegistrationDeclined) else CANCELLED
    edition = await editions.get(event.edition, for_update=True)
    if await registrations.status(event.registration_id) in (DECLINED, CANCELLED):
        return
    await registrations.set_status(event.registration_id, event.edition, status, now)
    if edition is None:
        return
    outcomes = edition.release(event.registration_id, status, now)
    await apply_outcomes(edition, outcomes, registrations=registrations, seats=seats, emit=emit, now=now)
    await editions.save(edition)


async def _admit(
    edition: Edition,
    trio: Trio,
    *,
    registrations: Registrations,
    places: Places,
    waitlist: Waitlist,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> None:
    """A trio approved after the allocation: a free place at once, otherwise the waitlist in rank order."""
    if edition.allocated_at is None or await places.holds(edition.slug, trio.registration_id):
        return
    if edition.has_room(await places.count(edition.slug), now):
        await places.add(edition.slug, trio.registration_id, "direct", trio.priority, trio.registered_at, now)
        emit_outcomes(edition, [Placed(trio.registration_id, "direct")], emit)
        await seat_joining(
            edition, [trio.registration_id], registrations=registrations, seats=seats, emit=emit, now=now
        )
        return
    entry = WaitEntry(trio.registration_id, 0, trio.priority, trio.registered_at, now)
    emit_outcomes(edition, await waitlist.join(edition.slug, entry), emit)


async def apply_outcomes(
    edition: Edition,
    outcomes: list[Outcome],
    *,
    registrations: Registrations,
    seats: Seats,
    emit: Emit,
    now: datetime,
    replan: bool = False,
) -> None:
    """Announce what changed; once the seating is planned, trios that got a place join a table and trios that
    lost one leave theirs (or, with `replan`, every session to come is planned anew)."""
    emit_outcomes(edition, outcomes, emit)
    if edition.allocated_at is None:
        return  # the allocation plans the seating of everyone placed by then
    if replan:
        await plan_anew(edition, registrations=registrations, seats=seats, emit=emit, now=now)
        return
    for outcome in outcomes:
        if isinstance(outcome, Released):
            await unseat_leaving(edition, outcome.registration_id, seats=seats, now=now)
    joined = [o.registration_id for o in outcomes if isinstance(o, Placed)]
    await seat_joining(edition, joined, registrations=registrations, seats=seats, emit=emit, now=now)
