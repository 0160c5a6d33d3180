"""registration.RegistrationAttemptRefused: the members already registered are told, in fixed words, once a day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.notifications import handlers
from services.notifications.domain import REGISTRATION_ATTEMPT
from shared.contract.registration import RegistrationAttemptRefused
from tests.unit.test_notifications_handlers import EDITION, NOW, TITLE, World, deliver, edition, envelope


def attempt(*addresses: tuple[str, str], hours: float = 0) -> Any:
    return envelope(
        RegistrationAttemptRefused(
            edition=EDITION,
            attempted_at=NOW + timedelta(hours=hours),
            municipality="Barneveld",
            already_registered=[{"email": e, "language": lang, "registration_id": "reg-1"} for e, lang in addresses],
        )
    )


async def tell(world: World, event: Any) -> None:
    await deliver(handlers.tell_of_registration_attempt, event, editions=world.editions, mails=world.mails, now=NOW)


async def test_each_member_already_registered_hears_of_the_attempt_in_their_language_with_the_municipality_only() -> (
    None
):
    world = World(edition())
    await tell(world, attempt(("Anna@Barneveld.nl", "nl"), ("bram@barneveld.nl", "en")))

    anna, bram = world.mails.to("anna@barneveld.nl"), world.mails.to("bram@barneveld.nl")
    assert anna.kind == bram.kind == REGISTRATION_ATTEMPT
    assert anna.registration_id == "reg-1"  # the registration they are in: its erasure reaches this mail
    assert anna.language == "nl" and bram.language == "en"
    assert "Iemand heeft geprobeerd je met een trio van de gemeente Barneveld aan te melden voor" in anna.text
    assert f"{TITLE} (editie {EDITION})" in anna.text
    assert "Ken je deze aanmelding niet? Dan hoef je niets te doen" in anna.text
    assert "Someone tried to register you with a trio of the municipality of Barneveld" in bram.text


async def test_repeated_attempts_on_one_day_mail_a_member_once() -> None:
    world = World(edition())
    for hours in (0, 1, 2):
        await tell(world, attempt(("anna@barneveld.nl", "nl"), hours=hours))
    assert len(world.mails.all(kind=REGISTRATION_ATTEMPT)) == 1

    await tell(world, attempt(("anna@barneveld.nl", "nl"), hours=24))
    assert len(world.mails.all(kind=REGISTRATION_ATTEMPT)) == 2
