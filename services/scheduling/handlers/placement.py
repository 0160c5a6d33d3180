"""Allocation and placement: allocating (CloseRegistration, the deadline), stopping and reopening registration,
admitting approved trios, releasing places, seating.

Registration events may reach scheduling in another order than they were published (competing
consumers, retries). None is dropped: each records what it says (the copy of the trio, or its decision)
and the trio is admitted as soon as both are known, whichever came last."""

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
    SeatingPlanned,
    StopRegistration,
    Table,
)
from shared.messaging.messages import refuse

from ..domain import Edition, Outcome, Placed, Released, Trio
from ..seating import plan_seating
from .events import edition_scheduled, emit_outcomes
from .ports import APPROVED, CANCELLED, DECLINED, Editions, Emit, Registrations, edition_of

# Allocation


async def close_registration(
    cmd: CloseRegistration, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> dict[str, str]:
    """Allocate now. Registration stays open until its closing moment: late trios are admitted (Edition.admit)."""
    edition = await edition_of(editions, cmd.edition)
    problem = edition.allocation_problem()
    if problem is not None:
        raise refuse(*problem)
    edition.allocate_now(now)
    # Registration keeps a copy of the edition: this is how its form learns that places are allocated.
    emit(edition_scheduled(edition))
    await _allocate(edition, registrations=registrations, emit=emit, now=now)
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
    slug: str, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> bool:
    """The deadline timer's work for one edition. Every replica may call it; the first one allocates."""
    edition = await editions.get(slug, for_update=True)
    if edition is None or not edition.allocation_due(now):
        return False
    await _allocate(edition, registrations=registrations, emit=emit, now=now)
    await editions.save(edition)
    return True


async def _allocate(edition: Edition, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
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
    await _replan_seating(edition, registrations=registrations, emit=emit, now=now)


# Registration events


async def remember_registration(
    event: TrioRegistered, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> None:
    # The lock, not the edition: a registration is not approved yet as a rule, and loading every place and
    # waitlist entry for each one made a long waitlist slow down every new registration. The lock still orders
    # this against a concurrent approval of the same trio, so one of the two always sees the other.
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
        edition = await editions.get(event.edition, for_update=True)
        assert edition is not None  # locked above, and editions are never deleted
        await _admit(edition, trio, registrations=registrations, emit=emit, now=now)
        await editions.save(edition)


async def registration_approved(
    event: RegistrationApproved, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> None:
    edition = await editions.get(event.edition, for_update=True)
    if await registrations.status(event.registration_id) is not None:
        return  # already approved, or declined/cancelled: an approval does not bring a trio back
    await registrations.set_status(event.registration_id, event.edition, APPROVED, event.approved_at)
    trio = await registrations.trio(event.registration_id)
    if edition is not None and trio is not None:
        await _admit(edition, trio, registrations=registrations, emit=emit, now=now)
        await editions.save(edition)


async def registration_left(
    event: RegistrationDeclined | RegistrationCancelled,
    *,
    editions: Editions,
    registrations: Registrations,
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
    await apply_outcomes(edition, outcomes, registrations=registrations, emit=emit, now=now)
    await editions.save(edition)


async def _admit(edition: Edition, trio: Trio, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
    await apply_outcomes(edition, edition.admit(trio, now), registrations=registrations, emit=emit, now=now)


async def apply_outcomes(
    edition: Edition,
    outcomes: list[Outcome],
    *,
    registrations: Registrations,
    emit: Emit,
    now: datetime,
    replan: bool = False,
) -> None:
    emit_outcomes(edition, outcomes, emit)
    placed_changed = any(isinstance(o, Placed | Released) for o in outcomes)
    if edition.allocated_at is not None and (placed_changed or replan):
        await _replan_seating(edition, registrations=registrations, emit=emit, now=now)


# Seating


async def _replan_seating(edition: Edition, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
    """Plan the sessions that have not started; announce each session whose tables changed."""
    held = [s for s in edition.sessions if s.starts_at <= now]
    coming = [s for s in sorted(edition.sessions, key=lambda s: s.number) if s.starts_at > now]
    if not coming:
        return
    trios = await registrations.trios(edition.placed_ids)
    known = [trios[rid] for rid in edition.placed_ids if rid in trios]
    history = [s.tables for s in sorted(held, key=lambda s: s.number) if s.tables]
    plans = plan_seating(known, edition.table_size, len(coming), history)
    for session, tables in zip(coming, plans, strict=True):
        if session.tables == tables:
            continue
        session.tables = tables
        emit(
            SeatingPlanned(
                edition=edition.slug,
                session_number=session.number,
                tables=[Table(table=number, registration_ids=ids) for number, ids in enumerate(tables, start=1)],
            )
        )
