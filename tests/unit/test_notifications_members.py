"""registration.MemberReplaced at notifications, with the in-memory fakes of test_notifications_handlers: the new
member is welcomed once, in their own language, with the invitation when the trio is placed; the member who left
gets nothing more and is no longer in notifications' copy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from services.notifications import handlers
from services.notifications.delivery import NoCopies
from services.notifications.domain import ERASED, WELCOME
from shared.contract.registration import ParticipantDataErased
from tests.unit.test_notifications_handlers import (
    NOW,
    SESSION_1,
    TITLE,
    World,
    deliver,
    edition,
    envelope,
    member_replaced,
    moved,
    placed,
    registered_world,
    seating,
    trio_registered,
)

NOOR = "noor.elamrani@barneveld.nl"
BRAM = "bram@barneveld.nl"


async def test_a_new_member_of_a_placed_trio_is_welcomed_with_the_invitation_for_every_session() -> None:
    world = await registered_world()
    await world.placed(placed())
    await world.member_replaced(member_replaced())

    mail = world.mails.to(NOOR, WELCOME)
    assert mail.subject == f"Welkom in het trio van Barneveld: {TITLE} (2027-najaar)"
    assert mail.text.startswith("Beste Noor El Amrani,")
    assert "Je doet mee met Anna de Vries en Chantal Bakker" in mail.text
    assert "Jullie trio heeft een plaats." in mail.text
    assert "1. dinsdag 12 oktober 2027, 13.00-17.00 uur: Positionering" in mail.text
    assert "https://werkplaatsen.example/registrations/reg-1?token=t" in mail.text
    assert mail.calendar is not None
    calendar = Calendar.from_ical(mail.calendar)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 3 and min(e.decoded("dtstart") for e in events) == SESSION_1
    assert all(NOOR in str(e["ATTENDEE"]).lower() for e in events)


async def test_the_member_who_left_gets_nothing_more_and_later_mails_go_to_the_new_one() -> None:
    world = await registered_world()
    await world.placed(placed())  # Bram's placement mail is still pending
    await world.member_replaced(member_replaced())

    (left,) = [m for m in world.mails.rows.values() if m.kind == "placed" and m.recipient == ""]
    assert left.status == ERASED and left.text == ""
    assert BRAM not in repr(world.registrations.rows["reg-1"])
    await world.rescheduled(moved())
    assert world.mails.all(NOOR, "rescheduled") and not world.mails.all(BRAM)
    await world.seating(seating(["reg-1"]))
    await world.remind(SESSION_1 + timedelta(hours=48) - timedelta(days=7))
    assert world.mails.all(NOOR, "reminder") and not world.mails.all(BRAM)


async def test_a_new_member_of_a_trio_awaiting_approval_is_told_so_in_their_own_language() -> None:
    world = await registered_world()
    await world.member_replaced(member_replaced(language="en"))

    mail = world.mails.to(NOOR, WELCOME)
    assert mail.language == "en" and mail.text.startswith("Dear Noor El Amrani,")
    assert "We are still waiting for the approval of your administrator or manager." in mail.text
    assert mail.calendar is None
    assert mail.html is not None and 'lang="en"' in mail.html


async def test_the_welcome_is_sent_once_however_often_the_event_comes() -> None:
    world = await registered_world()
    event = member_replaced()
    await world.member_replaced(event)
    await world.member_replaced(event)
    assert len(world.mails.all(NOOR, WELCOME)) == 1


async def test_two_replacements_of_one_place_are_applied_in_their_order_whatever_order_they_arrive_in() -> None:
    world = await registered_world()
    first = member_replaced()  # Bram (m1) makes way for Noor (m-new)
    second = member_replaced(replaced="m-new", new_id="m-newer", name="Iris Bos", email="iris@barneveld.nl")
    with pytest.raises(handlers.RegistrationNotYetKnown):
        await world.member_replaced(second)  # retried by the transport until the first has been applied
    await world.member_replaced(first)
    await world.member_replaced(second)
    members = world.registrations.rows["reg-1"].details.members  # type: ignore[union-attr]
    assert [m.member_id for m in members] == ["m0", "m-newer", "m2"]
    assert world.mails.all(NOOR, WELCOME) == [] and world.mails.all("iris@barneveld.nl", WELCOME)


async def test_a_replacement_before_the_registration_waits_and_after_erasure_does_nothing() -> None:
    world = World(edition())
    with pytest.raises(handlers.RegistrationNotYetKnown):
        await world.member_replaced(member_replaced())
    await world.register(trio_registered())
    await deliver(
        handlers.erase_participant_data,
        envelope(ParticipantDataErased(registration_id="reg-1")),
        registrations=world.registrations,
        mails=world.mails,
        mail_copies=NoCopies(),
    )
    await world.member_replaced(member_replaced(), now=NOW)
    assert world.mails.all(NOOR) == []
