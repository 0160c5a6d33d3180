"""The waitlist order is the rule's (priority, then registered_at, then the registration id) whatever order the
messages arrive in: the same registrations and approvals fed in two orders give the same waitlist."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from services.registration import handlers as registration
from services.registration.domain import MAX_RECEIPT_AGE, registered_moment
from services.reporting.domain import Trio
from services.reporting.overview import edition_overview
from services.scheduling import handlers as scheduling
from shared.contract.registration import RegisterTrio, TrioRegistered
from shared.messaging.messages import NotYetKnown
from tests.unit import test_registration_handlers as reg
from tests.unit import test_scheduling_handlers as sched


async def intake(body: dict, editions: reg.FakeEditions, **moments: object) -> TrioRegistered:
    emitted: list[object] = []
    await registration.register_trio(
        RegisterTrio.model_validate(body),
        editions=editions,
        registrations=reg.FakeRegistrations(),
        municipalities=reg.MUNICIPALITIES,
        approvals=reg.APPROVALS,
        emit=emitted.append,
        history=reg.FakeHistory(),
        approval_requests=reg.FakeApprovalRequests(),
        **moments,  # type: ignore[arg-type]
    )
    event = emitted[0]
    assert isinstance(event, TrioRegistered)
    return event


async def registered_in_order(edition_first: bool) -> tuple[TrioRegistered, TrioRegistered]:
    """Trio X is sent at t0, trio Y at t1. Either the edition is known to registration from the start, or X
    arrives before registration's copy of the edition: it waits, and comes back from the retry queue at t2,
    after Y (the transport tells it when it first arrived)."""
    t0 = reg.NOW
    t1, t2 = t0 + timedelta(seconds=1), t0 + timedelta(seconds=6)
    x_body, y_body = reg.trio(), reg.trio()  # both of a medium-sized municipality: the same priority group
    y_body["members"] = [{**m, "email": f"y{i}@barneveld.example"} for i, m in enumerate(y_body["members"])]
    if edition_first:
        editions = reg.FakeEditions(reg.edition())
        x = await intake(x_body, editions, now=t0)
        y = await intake(y_body, editions, now=t1)
        return x, y
    editions = reg.FakeEditions()
    with pytest.raises(NotYetKnown):
        await intake(x_body, editions, now=t0)
    await editions.save(reg.edition())
    y = await intake(y_body, editions, now=t1)
    x = await intake(x_body, editions, now=t2, received_at=t0)
    return x, y


async def waitlist_after(registered: list[TrioRegistered], order: tuple[int, ...]) -> list[str]:
    """Scheduling, with every place taken, admits the trios registration announced, events in `order`."""
    world = sched.World()
    await world.schedule()
    await world.approved_trios(8)
    await world.allocate()
    after = world.deadline + timedelta(hours=1)
    events = [("registered", e) for e in registered] + [("approved", e) for e in registered]
    for kind, event in (events[i] for i in order):
        if kind == "registered":
            trio = event.model_copy(update={"edition": world.slug})
            await scheduling.remember_registration(trio, **world.deps(scheduling.remember_registration), now=after)
        else:
            await world.approve(event.registration_id, after)
    return world.edition.waitlisted_ids


async def test_a_trio_that_waited_for_its_edition_keeps_its_place_ahead_of_one_sent_after_it() -> None:
    x_first, y_first = await registered_in_order(edition_first=True)
    x_late, y_late = await registered_in_order(edition_first=False)
    assert x_first.registered_at < y_first.registered_at
    assert x_late.registered_at < y_late.registered_at  # without the first receipt X would rank after Y
    assert x_late.registered_at == reg.NOW

    orders = list(itertools.permutations(range(4)))
    first = {tuple(await waitlist_after([x_first, y_first], order)) for order in orders}
    late = {tuple(await waitlist_after([x_late, y_late], order)) for order in orders}
    assert first == {(x_first.registration_id, y_first.registration_id)}
    assert late == {(x_late.registration_id, y_late.registration_id)}


def test_the_first_receipt_counts_only_within_bounds() -> None:
    now = reg.NOW
    assert registered_moment(now, None) == now
    assert registered_moment(now, now - timedelta(seconds=36)) == now - timedelta(seconds=36)
    assert registered_moment(now, now - timedelta(days=3)) == now - MAX_RECEIPT_AGE
    assert registered_moment(now, now + timedelta(minutes=1)) == now


def test_reportings_waitlist_is_in_the_same_order_whichever_row_came_first() -> None:
    # Two trios at one position for a moment: the TrioWaitlisted moving one of them is still on its way.
    early = Trio("r-early", registered_at=reg.NOW, status="waitlisted", waitlist_position=1)
    later = Trio("r-later", registered_at=reg.NOW + timedelta(minutes=1), status="waitlisted", waitlist_position=1)
    last = Trio("r-last", registered_at=reg.NOW - timedelta(days=1), status="waitlisted", waitlist_position=2)
    orders = {
        tuple(t.registration_id for t in edition_overview(None, "e", list(rows), {}).waitlist)
        for rows in itertools.permutations([early, later, last])
    }
    assert orders == {("r-early", "r-later", "r-last")}
