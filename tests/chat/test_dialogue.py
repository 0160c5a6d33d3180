"""The bot's conversation and status rules without I/O (the end-to-end tests drive them through Matrix)."""

from __future__ import annotations

from datetime import timedelta

from frontends.chat.conversation import Context, Dialogue
from frontends.chat.dialogue import respond
from frontends.chat.registering import steps_to_ask_again
from frontends.chat.settings import M50_FILE, MUNICIPALITIES_FILE
from frontends.chat.store import RegistrationRow, apply_status
from shared.contract import ErrorItem
from shared.contract.scheduling import EditionScheduled
from shared.db import utcnow
from shared.municipalities import MunicipalityIndex, SizeBand, read_municipalities
from tests.factories import open_edition

MUNICIPALITIES = MunicipalityIndex(read_municipalities(MUNICIPALITIES_FILE, M50_FILE, SizeBand(40_000, 100_000)))


def context(**changes: object) -> Context:
    body = open_edition("2027-najaar", **changes)
    edition = EditionScheduled.model_validate(
        {
            **{k: v for k, v in body.items() if k != "registration_closes_at"},
            "registration_closes_at": body["sessions"][0]["starts_at"],
        }
    )
    return Context(
        editions=[edition],
        municipalities=MUNICIPALITIES,
        registration=None,
        room_id="!room:localhost",
        status_link=lambda registration_id: f"https://example.org/registrations/{registration_id}",
    )


def error(field: str, code: str = "schema") -> ErrorItem:
    return ErrorItem(field=field, code=code, message="fout")


def test_an_error_on_one_member_field_asks_again_for_that_field_only() -> None:
    assert steps_to_ask_again([error("members[1].email", "duplicate_member")]) == ["members.1.email"]


def test_rules_about_the_whole_trio_ask_again_for_the_fields_the_rule_is_about() -> None:
    assert steps_to_ask_again([error("members", "no_wijkambtenaar")]) == [f"members.{i}.role" for i in range(3)]
    assert steps_to_ask_again([error("members", "single_domain")]) == [f"members.{i}.domain" for i in range(3)]


def test_an_error_on_a_group_asks_again_for_its_fields_and_a_message_wide_error_for_none() -> None:
    assert steps_to_ask_again([error("invoice", "invoice_required")]) == ["invoice.address", "invoice.reference"]
    assert steps_to_ask_again([error("case.domains[0]")]) == ["case.domains"]
    assert steps_to_ask_again([error("", "invalid_json")]) == []


def test_an_ambiguous_municipality_is_offered_as_numbered_suggestions_to_choose_from() -> None:
    ctx = context()
    started = respond(Dialogue(), "aanmelden", ctx)
    asked = respond(started.dialogue, "bergen", ctx)

    assert "Welke gemeente bedoel je?" in asked.messages[0]
    number = next(line.split(".")[0] for line in asked.messages[0].splitlines() if "Bergen op Zoom" in line)
    chosen = respond(asked.dialogue, number, ctx)
    assert chosen.dialogue.answers["municipality"] == "GM0748"
    assert "naam van het eerste lid" in chosen.messages[-1]


def test_a_municipality_that_pays_the_fee_is_asked_for_invoice_details() -> None:
    ctx = context()
    d = respond(Dialogue(), "aanmelden", ctx).dialogue
    d.answers.update({"municipality": "GM0363"})  # Amsterdam: groot, pays the fee
    for i in range(3):
        d.answers.update(
            {
                f"members.{i}.name": "X",
                f"members.{i}.email": f"x{i}@a.example",
                f"members.{i}.role": "wijkambtenaar",
                f"members.{i}.domain": "fysiek",
                f"members.{i}.language": "nl",
            }
        )
    d.answers.update(
        {
            "case.title": "t",
            "case.neighbourhood": "n",
            "case.summary": "s",
            "case.domains": ["fysiek", "sociaal"],
            "approver.name": "A",
        }
    )

    asked = respond(d, "a@a.example", ctx)

    assert "eigen bijdrage van € 200,00 per trio" in asked.messages[-1]


def test_a_placed_trio_is_not_demoted_by_an_older_waitlist_event_and_cancelled_is_final() -> None:
    now = utcnow()
    row = RegistrationRow(
        registration_id="r",
        room_id="!r",
        edition="e",
        municipality="m",
        status="approved",
        waitlist_position=None,
        placement_at=None,
    )
    apply_status(row, "placed", now)
    apply_status(row, "waitlisted", now - timedelta(seconds=1), 2)
    assert (row.status, row.waitlist_position) == ("placed", None)
    apply_status(row, "cancelled")
    apply_status(row, "placed", now + timedelta(seconds=1))
    assert row.status == "cancelled"


def test_an_answer_that_starts_with_koppel_is_an_answer_during_registering_and_a_code_is_still_a_code() -> None:
    ctx = context()
    d = respond(Dialogue(), "aanmelden", ctx).dialogue
    d.answers.update({"municipality": "GM0345"})
    d = respond(d, "Koppel de Vries", ctx).dialogue
    assert d.answers["members.0.name"] == "Koppel de Vries"

    code = respond(d, "koppel eyJh.ZmFr.c2ln", ctx)
    assert "klopt niet" in code.messages[0] and code.bind is None and code.dialogue.flow == "aanmelden"
