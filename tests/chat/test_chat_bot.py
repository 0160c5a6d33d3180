"""A participant talks to the chat bot on a real Matrix homeserver; what the bot answers comes from the real
registration, scheduling and notifications services behind RabbitMQ."""

from __future__ import annotations

import re
import secrets
import sqlite3
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.chat.conftest import ChatSystem, Participant, register_user
from tests.factories import ORGANISER
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e


def trio_answers(tag: str, approver_email: str | None = None) -> list[tuple[str, str]]:
    """Each answer of the `aanmelden` dialogue after the municipality, with what the bot asks next."""
    email = {name: f"{name}.{tag}@veenendaal.example" for name in ("anna", "bram", "chris", "dirk")}
    return [
        ("Anna de Vries", "e-mailadres van Anna de Vries"),
        (email["anna"], "wijkambtenaar"),
        ("1", "beleidsdomein"),
        ("sociaal", "taal"),
        ("nl", "tweede lid"),
        ("Bram Jansen", "e-mailadres van Bram Jansen"),
        (email["bram"], "wijkambtenaar"),
        ("sectorambtenaar", "beleidsdomein"),
        ("1", "taal"),
        ("nl", "derde lid"),
        ("Chris Bakker", "e-mailadres van Chris Bakker"),
        (email["chris"], "wijkambtenaar"),
        ("2", "beleidsdomein"),
        ("veiligheid", "taal"),
        ("en", "titel van de casus"),
        (f"Groene pleinen tegen wateroverlast {tag}", "wijk of buurt"),
        ("Dragonder-Oost", "beschrijf"),
        ("Pleinen aanpassen met bewoners zodat regenwater wordt opgevangen.", "beleidsdomeinen"),
        ("fysiek, sociaal", "naam?"),
        ("Dirk Visser", "e-mailadres van Dirk Visser"),
        (approver_email or email["dirk"], "toestemming"),
        ("ja", "openbare verslagen"),
        ("nee", "Klopt dit?"),
    ]


async def answer_all(participant: Participant, room: str, answers: list[tuple[str, str]]) -> None:
    for text, next_question in answers:
        await participant.ask(room, text, next_question)


async def register(participant: Participant, room: str, tag: str) -> str:
    """A whole registration for Veenendaal, without mistakes; returns the bot's answer to the final 'ja'."""
    await participant.ask(room, "aanmelden", "Voor welke gemeente")
    await participant.ask(room, "Veenendaal", "naam van het eerste lid")
    await answer_all(participant, room, trio_answers(tag))
    return await participant.ask(room, "ja", "aanmelding is ontvangen")


def registration_id_in(text: str) -> str:
    match = re.search(r"kenmerk ([0-9a-f-]{36})", text)
    assert match, text
    return match.group(1)


async def mailed_code_line(chat_system: ChatSystem, tag: str) -> str:
    """The `koppel <code>` line of the acknowledgement mail the trio's first member got."""

    def mailed() -> str | None:
        for mail in chat_system.smtp.to(f"anna.{tag}@veenendaal.example"):
            text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            found = re.search(r"^koppel \S+", text, re.MULTILINE)  # the line ends in CRLF as mailed
            if found:
                return found.group(0)
        return None

    return await wait_until(mailed, interval=0.1, what="the acknowledgement mail with the code")


async def register_and_bind(participant: Participant, room: str, chat_system: ChatSystem) -> str:
    """Register, then paste the mailed code into the room; returns the registration id."""
    tag = secrets.token_hex(4)
    registration_id = registration_id_in(await register(participant, room, tag))
    await participant.ask(room, await mailed_code_line(chat_system, tag), "volgt nu jullie aanmelding")
    return registration_id


async def test_programma_lists_the_sessions_of_the_open_edition(
    participant: Participant, edition: dict[str, Any]
) -> None:
    room = await participant.open_room()

    said = await participant.ask(room, "programma", edition["sessions"][0]["title"])

    for session in edition["sessions"]:
        assert f"Bijeenkomst {session['number']}: {session['title']}" in said
    assert edition["edition"] in said and "Aanmelden kan tot" in said


async def test_registering_asks_again_for_just_the_field_the_registration_service_refused(
    participant: Participant, edition: dict[str, Any], bus: Bus, chat_system: ChatSystem
) -> None:
    tag = secrets.token_hex(4)
    room = await participant.open_room()
    await participant.ask(room, "aanmelden", "Voor welke gemeente")
    await participant.ask(room, "Veenendaal", "naam van het eerste lid")
    # The approver's address is one of the trio's: only the registration service knows that rule.
    await answer_all(participant, room, trio_answers(tag, approver_email=f"anna.{tag}@veenendaal.example"))

    refused = await participant.ask(room, "ja", "e-mailadres van Dirk Visser")

    assert "De aanmelding is nog niet gelukt:\n- E-mailadres goedkeurder: " in refused
    assert "toestemming" not in refused.casefold()  # only the refused field is asked again
    (rejection,) = [
        e
        for e in bus.of("CommandRejected", producer="registration")
        if [error["code"] for error in e["data"]["errors"]] == ["approver_is_member"]
    ]
    assert rejection["data"]["errors"][0]["field"] == "approver.email"
    assert rejection["data"]["errors"][0]["message"] in refused
    summary = await participant.ask(room, f"dirk.{tag}@veenendaal.example", "Klopt dit?")
    assert f"Dirk Visser <dirk.{tag}@veenendaal.example>" in summary and "Anna de Vries" in summary

    accepted = await participant.ask(room, "ja", "aanmelding is ontvangen")

    registration_id = registration_id_in(accepted)
    (registered,) = await bus.wait_for("TrioRegistered", registration_id=registration_id)
    assert registered["data"]["channel"] == "chat" and registered["data"]["chat_id"] == room
    assert registered["data"]["municipality"]["code"] == "GM0345"
    assert registered["data"]["members"][2]["language"] == "en"
    assert "token=" not in accepted  # no status link before a member bound the room
    code_line = await mailed_code_line(chat_system, tag)
    await participant.ask(room, code_line, "volgt nu jullie aanmelding")

    status = await participant.ask(room, "status", "wacht op goedkeuring")
    assert "Veenendaal" in status and registration_id in status
    link = re.search(r"http://\S+/registrations/\S+", status).group(0)  # type: ignore[union-attr]
    async with httpx.AsyncClient() as client:
        page = await client.get(link, timeout=10)
    assert page.status_code == 200 and "Veenendaal" in page.text


async def test_a_room_without_the_mailed_code_cannot_bind_to_or_read_another_trios_registration(
    participant: Participant, edition: dict[str, Any], chat_system: ChatSystem
) -> None:
    tag = secrets.token_hex(4)
    room = await participant.open_room()
    registration_id = registration_id_in(await register(participant, room, tag))
    code_line = await mailed_code_line(chat_system, tag)
    client = await register_user(chat_system.homeserver.url, f"ander{secrets.token_hex(4)}", "wachtwoord")
    someone = Participant(client, chat_system.bot_user)
    await someone.start()
    try:
        other = await someone.open_room()
        # Even with the code in hand (it names the trio's room), and before the trio bound its own room.
        await someone.ask(other, code_line, "ander chatgesprek")
        status = await someone.ask(other, "status", "nog geen trio aangemeld")
        assert registration_id not in status
        await someone.ask(other, "annuleren", "geen lopende aanmelding")
        # The trio's own room sees nothing of it either until the code is pasted there.
        unbound = await participant.ask(room, "status", "volgt die aanmelding nog niet")
        assert "token=" not in unbound
    finally:
        await someone.stop()


async def test_status_follows_the_approval(
    participant: Participant, edition: dict[str, Any], bus: Bus, chat_system: ChatSystem
) -> None:
    room = await participant.open_room()
    registration_id = await register_and_bind(participant, room, chat_system)

    await bus.send(
        "registration.ApproveRegistration",
        {"registration_id": registration_id, "by_organizer": True, "actor": ORGANISER},
    )
    # notifications' message about the approval is relayed after the bot saw the approval itself (one queue)
    await participant.expect(room, 0, "is goedgekeurd")

    await participant.ask(room, "status", "Veenendaal", "goedgekeurd")


async def test_a_restarted_bot_continues_the_dialogue_where_it_was(
    participant: Participant, edition: dict[str, Any], bus: Bus, chat_system: ChatSystem
) -> None:
    tag = secrets.token_hex(4)
    room = await participant.open_room()
    await participant.ask(room, "aanmelden", "Voor welke gemeente")
    suggestions = await participant.ask(room, "bergen", "Welke gemeente bedoel je?")
    number = re.search(r"(\d+)\. Bergen op Zoom", suggestions).group(1)  # type: ignore[union-attr]
    await participant.ask(room, number, "naam van het eerste lid")

    chat_system.bot.kill()
    said_before = await participant.send(room, "Eva Smit")  # while the bot is down
    chat_system.bot.start()

    await participant.expect(room, said_before, "e-mailadres van Eva Smit")
    await chat_system.bot.wait_consuming(chat_system.amqp_url)
    rest = trio_answers(tag)[2:-2]  # after the first member's name and email, up to the consent to publish
    await answer_all(
        participant,
        room,
        [
            (f"eva.{tag}@bergenopzoom.example", "wijkambtenaar"),
            *rest,
            ("ja", "openbare verslagen"),
            ("ja", "Klopt dit?"),
        ],
    )
    summary = participant.lines[room][-1]
    assert "Gemeente: Bergen op Zoom" in summary and f"Lid 1: Eva Smit <eva.{tag}@bergenopzoom.example>" in summary

    accepted = await participant.ask(room, "ja", "aanmelding is ontvangen")

    (registered,) = await bus.wait_for("TrioRegistered", registration_id=registration_id_in(accepted))
    assert registered["data"]["municipality"]["code"] == "GM0748" and registered["data"]["chat_id"] == room
    assert registered["data"]["members"][0]["name"] == "Eva Smit"
    assert registered["data"]["consent"]["publish_municipality_name"] is True


async def test_annuleren_cancels_the_trio_after_confirmation(
    participant: Participant, edition: dict[str, Any], bus: Bus, chat_system: ChatSystem
) -> None:
    room = await participant.open_room()
    registration_id = await register_and_bind(participant, room, chat_system)

    await participant.ask(room, "annuleren", "Weet je zeker", "Veenendaal")
    await participant.ask(room, "nee", "blijft staan")
    assert not bus.of("RegistrationCancelled", registration_id=registration_id)
    await participant.ask(room, "annuleren", "Weet je zeker")
    await participant.ask(room, "ja", "De aanmelding is geannuleerd")

    await bus.wait_for("RegistrationCancelled", registration_id=registration_id)
    await participant.ask(room, "status", "geannuleerd")


async def test_an_erased_registration_is_gone_from_the_room_and_the_bots_store(
    participant: Participant, edition: dict[str, Any], bus: Bus, chat_system: ChatSystem
) -> None:
    room = await participant.open_room()
    registration_id = await register_and_bind(participant, room, chat_system)

    await bus.send("registration.EraseParticipantData", {"registration_id": registration_id, "actor": ORGANISER})
    await bus.wait_for("ParticipantDataErased", registration_id=registration_id)

    def forgotten() -> bool:
        with closing(sqlite3.connect(chat_system.bot_store)) as db:
            return not any(
                db.execute(f"SELECT 1 FROM {table} WHERE registration_id = ?", (registration_id,)).fetchone()  # noqa: S608
                for table in ("registrations", "room_bindings")
            )

    await wait_until(forgotten, interval=0.1, what="the bot forgetting the erased registration")
    await participant.ask(room, "status", "nog geen trio aangemeld")
