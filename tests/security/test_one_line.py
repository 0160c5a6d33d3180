"""CR, LF and the other line separators are refused in every one-line field of the contract's commands (names,
subjects, references, titles, venues...) before they can reach a mail header, a CSV row, an iCalendar property or
a PDF line: shared/contract/common.py OneLine, code `line_break_not_allowed`. Multi-line fields (case summaries,
addresses, reasons) keep their line breaks, and events accept what they accepted before."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contract import COMMANDS
from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import EditionScheduled
from shared.messaging.errors import validation_errors
from tests import factories
from tests.fuzz.bodies import valid_body
from tests.unit.test_registration_web import open_site, sqlite_url, trio_form

INJECTION = "Jan\r\nBcc: x@y"

# Every one-line text field a command carries, by routing key and path in its body.
ONE_LINE_FIELDS: list[tuple[str, tuple[str | int, ...]]] = [
    ("registration.RegisterTrio", ("members", 0, "name")),
    ("registration.RegisterTrio", ("members", 2, "job_title")),
    ("registration.RegisterTrio", ("case", "title")),
    ("registration.RegisterTrio", ("case", "neighbourhood")),
    ("registration.RegisterTrio", ("approver", "name")),
    ("registration.RegisterTrio", ("invoice", "reference")),
    ("registration.RegisterTrio", ("chat_id",)),
    ("registration.ReplaceMember", ("member", "name")),
    ("registration.CorrectRegistration", ("case", "title")),
    ("registration.CorrectRegistration", ("invoice", "reference")),
    ("registration.RegisterPayment", ("invoice_number",)),
    ("registration.RegisterPayment", ("reference",)),
    ("registration.IssueCreditNote", ("invoice_number",)),
    ("registration.IssueCreditNote", ("reason",)),
    ("registration.ResendInvoice", ("invoice_number",)),
    ("scheduling.ScheduleEdition", ("title",)),
    ("scheduling.ScheduleEdition", ("venue", "name")),
    ("scheduling.ScheduleEdition", ("venue", "city")),
    ("scheduling.ScheduleEdition", ("sessions", 0, "title")),
    ("scheduling.CompleteSession", ("notes", "instruments", 0, "name")),
    ("reporting.ReviseReport", ("notes", "instruments", 0, "name")),
    ("notifications.SendAnnouncement", ("subject",)),
]
# Text that may span lines: the breaks are part of it.
MULTI_LINE_FIELDS: list[tuple[str, tuple[str | int, ...]]] = [
    ("registration.RegisterTrio", ("case", "summary")),
    ("registration.RegisterTrio", ("invoice", "address")),
    ("registration.CancelRegistration", ("reason",)),
    ("scheduling.ScheduleEdition", ("venue", "address")),
    ("scheduling.ScheduleEdition", ("sessions", 0, "outcome")),
    ("notifications.SendAnnouncement", ("text",)),
]


def body_of(routing_key: str) -> dict[str, Any]:
    body = valid_body(routing_key)
    if routing_key in ("registration.RegisterTrio", "registration.CorrectRegistration"):
        body["invoice"] = {"address": "Gemeente Utrecht\nPostbus 16200\n3500 CE Utrecht", "reference": "PO-1"}
    if routing_key == "registration.RegisterTrio":
        body["chat_id"] = "!room:matrix.example"
        body["members"][2]["job_title"] = "beleidsadviseur"
    return body


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    parent: Any = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


def field_path(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def refusals(routing_key: str, body: dict[str, Any]) -> list[tuple[str, str, str]]:
    try:
        COMMANDS[routing_key].model_validate(body)
    except ValidationError as exc:
        return [(e.field, e.code, e.message) for e in validation_errors(exc)]
    return []


@pytest.mark.parametrize(("routing_key", "path"), ONE_LINE_FIELDS, ids=lambda v: str(v))
def test_a_line_break_in_a_one_line_field_is_refused_with_its_code_and_field(
    routing_key: str, path: tuple[str | int, ...]
) -> None:
    body = body_of(routing_key)
    assert refusals(routing_key, body) == []
    ((field, code, message),) = refusals(routing_key, with_value(body, path, INJECTION))
    assert (field, code) == (field_path(path), "line_break_not_allowed")
    assert message == "Dit veld moet op één regel: een regeleinde is hier niet toegestaan."


@pytest.mark.parametrize("separator", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_every_kind_of_line_separator_is_refused(separator: str) -> None:
    body = with_value(body_of("registration.RegisterTrio"), ("members", 0, "name"), f"Jan{separator}Bcc: x@y")
    assert [code for _, code, _ in refusals("registration.RegisterTrio", body)] == ["line_break_not_allowed"]


@pytest.mark.parametrize(("routing_key", "path"), MULTI_LINE_FIELDS, ids=lambda v: str(v))
def test_multi_line_fields_keep_their_line_breaks(routing_key: str, path: tuple[str | int, ...]) -> None:
    assert refusals(routing_key, with_value(body_of(routing_key), path, "Eerste regel\r\nTweede regel")) == []


def test_events_still_accept_the_line_breaks_they_carried_before() -> None:
    trio = factories.trio("2027-najaar")
    TrioRegistered.model_validate(
        {
            "registration_id": "r1",
            "edition": "2027-najaar",
            "registered_at": "2027-09-01T10:00:00+02:00",
            "municipality": {
                "code": "GM0345",
                "name": "Veenendaal",
                "province": "Utrecht",
                "inhabitants": 68000,
                "size_class": "middelgroot",
                "m50_member": False,
            },
            "members": [],
            "case": {**trio["case"], "title": "Groene\npleinen"},
            "fee": {"amount_cents": 0, "waived": True},
            "priority": True,
            "preferred_domain_mix": True,
            "consent": {"privacy": True},
            "channel": "web",
        }
    )
    edition = factories.open_edition("2027-najaar")
    edition["venue"]["name"] = "Stads\nkantoor"
    EditionScheduled.model_validate({**edition, "registration_closes_at": edition["registration_deadline"]})


async def test_the_registration_form_shows_the_line_break_refusal_on_its_field(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        page = (await site.client.get("/")).text
        answer = await site.client.post("/", data=trio_form(page, **{"members[0].name": INJECTION}))
        assert answer.status_code == 422
        field = re.search(r'<input[^>]*name="members\[0\]\.name"[^>]*>', answer.text)
        assert field is not None and 'aria-invalid="true"' in field.group()
        assert "een regeleinde is hier niet toegestaan" in answer.text
    finally:
        await site.close()
