"""Seating: a whole plan for the sessions to come at the allocation (and when an organiser asks: PlanSeating),
and a trio placed afterwards joining a table with room, so one placement costs the same in an edition of ten
trios as in one of five thousand. Announced as SeatingPlanned per session (a whole plan) or TrioSeated (one
trio's tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.contract.scheduling import PlanSeating, Seat, SeatingPlanned, Table, TrioSeated
from shared.messaging.messages import refuse

from ..domain import Edition, Session, Trio
from ..seating import OpenTable, join_tables, plan_seating
from .ports import Editions, Emit, Registrations, Seats, edition_of


def coming_sessions(edition: Edition, now: datetime) -> list[Session]:
    return sorted((s for s in edition.sessions if s.starts_at > now), key=lambda s: s.number)


async def plan_seating_again(
    cmd: PlanSeating, *, editions: Editions, registrations: Registrations, seats: Seats, emit: Emit, now: datetime
) -> dict[str, object]:
    """The organiser's whole new plan of the sessions to come."""
    edition = await edition_of(editions, cmd.edition, waitlist=False)
    if edition.allocated_at is None:
        raise refuse(
            "edition",
            "not_allocated",
            "De plaatsen van deze editie zijn nog niet verdeeld; de tafelindeling volgt bij de verdeling.",
        )
    if not coming_sessions(edition, now):
        raise refuse("edition", "sessions_over", "Alle bijeenkomsten van deze editie zijn al begonnen.")
    changed = await plan_anew(edition, registrations=registrations, seats=seats, emit=emit, now=now)
    return {"edition": edition.slug, "sessions": changed}


async def plan_anew(
    edition: Edition, *, registrations: Registrations, seats: Seats, emit: Emit, now: datetime
) -> list[int]:
    """Plan the sessions that have not started for every placed trio (`edition` read with its places); announce
    each session whose tables changed. Returns the numbers of those sessions."""
    numbers = {s.number for s in edition.sessions}
    gone = sorted(await seats.sessions(edition.slug) - numbers)
    if gone:
        await seats.forget(edition.slug, gone)
    coming = coming_sessions(edition, now)
    if not coming:
        return []
    trios = await registrations.trios(edition.placed_ids)
    known = [trios[rid] for rid in edition.placed_ids if rid in trios]
    held = sorted((s for s in edition.sessions if s.starts_at <= now), key=lambda s: s.number)
    history = [list((await seats.plan(edition.slug, s.number)).values()) for s in held]
    plans = plan_seating(known, edition.table_size, len(coming), [h for h in history if h])
    changed: list[int] = []
    for session, tables in zip(coming, plans, strict=True):
        current = await seats.plan(edition.slug, session.number)
        if current == {number: sorted(table) for number, table in enumerate(tables, start=1)}:
            continue
        await seats.replace(edition.slug, session.number, tables)
        changed.append(session.number)
        emit(
            SeatingPlanned(
                edition=edition.slug,
                session_number=session.number,
                tables=[Table(table=number, registration_ids=ids) for number, ids in enumerate(tables, start=1)],
            )
        )
    return changed


async def seat_joining(
    edition: Edition,
    registration_ids: Sequence[str],
    *,
    registrations: Registrations,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> None:
    """Trios placed after the allocation each join a table with room at every session to come."""
    coming = coming_sessions(edition, now)
    if not coming or not registration_ids:
        return
    numbers = [s.number for s in coming]
    for registration_id in registration_ids:
        rooms = await seats.with_room(edition.slug, numbers, edition.table_size)
        seated = {rid for room, _ in rooms.values() for table in room.values() for rid in table}
        trios = await registrations.trios([registration_id, *seated])
        sessions = [
            (
                [
                    OpenTable(n, tuple(_trio(trios, rid) for rid in table))
                    for n, table in sorted(rooms[number][0].items())
                ],
                rooms[number][1],
            )
            for number in numbers
        ]
        tables = join_tables(_trio(trios, registration_id), sessions, edition.table_size)
        await seats.seat(edition.slug, registration_id, [(s.number, t) for s, t in zip(coming, tables, strict=True)])
        emit(
            TrioSeated(
                edition=edition.slug,
                registration_id=registration_id,
                seats=[Seat(session_number=s.number, table=t) for s, t in zip(coming, tables, strict=True)],
            )
        )


async def unseat_leaving(edition: Edition, registration_id: str, *, seats: Seats, now: datetime) -> None:
    """A trio that lost its place leaves its tables at the sessions to come; the sessions held keep it."""
    await seats.unseat(edition.slug, registration_id, [s.number for s in coming_sessions(edition, now)])


def _trio(trios: dict[str, Trio], registration_id: str) -> Trio:
    # A trio placed by hand from the waitlist may have no copy yet; it is seated without its mix.
    return trios.get(registration_id) or Trio(registration_id, False, datetime.min)
