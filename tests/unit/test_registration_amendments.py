"""What organisers change after intake, and the history every event leaves: registration's handlers with in-memory
fakes (those of test_registration_handlers)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from services.registration import handlers
from services.registration.domain import ERASED
from services.registration.handlers import Invoicing
from shared.contract.registration import (
    CorrectRegistration,
    MemberReplaced,
    RegistrationApproved,
    RegistrationCorrected,
    RegistrationDeclined,
    ReplaceMember,
)
from tests.unit.test_registration_handlers import EDITION, NOW, ORGANISER, SMALL, Trio, placed, trio, waitlisted

VIEWER = {**ORGANISER, "role": "viewer"}
NOOR = {
    "name": "Noor El Amrani",
    "email": "Noor.ElAmrani@barneveld.nl",
    "role": "sectorambtenaar",
    "domain": "fysiek",
    "language": "en",
}


async def replace(t: Trio, **fields: Any) -> list[Any]:
    emitted: list[Any] = []
    body = {"member_index": 1, "member": NOOR, "reason": "Bram is van functie gewisseld.", "actor": ORGANISER}
    await handlers.replace_member(
        ReplaceMember.model_validate({**body, **fields}),
        registrations=t.registrations,
        history=t.history,
        emit=emitted.append,
        now=NOW + timedelta(days=3),
        invoicing=getattr(t, "invoicing", None),
    )
    return emitted


async def correct(t: Trio, **fields: Any) -> list[Any]:
    emitted: list[Any] = []
    await handlers.correct_registration(
        CorrectRegistration.model_validate({"reason": "Op verzoek van de gemeente.", "actor": ORGANISER, **fields}),
        registrations=t.registrations,
        history=t.history,
        emit=emitted.append,
        now=NOW + timedelta(days=4),
        invoicing=getattr(t, "invoicing", None),
    )
    return emitted


# Replacing a member


async def test_organiser_replaces_a_member_and_nothing_of_the_old_member_stays_in_the_trio() -> None:
    t = Trio()
    rid = await t.register()
    before = copy.deepcopy(t.registrations.row(rid).members)
    (replaced,) = await replace(t, registration_id=rid)

    assert isinstance(replaced, MemberReplaced)
    assert (replaced.registration_id, replaced.edition, replaced.position) == (rid, EDITION, 1)
    assert replaced.replaced_member_id == before[1].member_id
    assert replaced.member.email == "noor.elamrani@barneveld.nl" and replaced.member.language == "en"
    assert replaced.member.member_id != before[1].member_id and replaced.preferred_domain_mix is True
    members = t.registrations.row(rid).members
    assert [m.email for m in members] == [before[0].email, "noor.elamrani@barneveld.nl", before[2].email]
    assert "bram.jansen@barneveld.nl" not in repr(members) and "Bram Jansen" not in repr(members)
    assert t.history.of(rid)[-1] == ("registration.MemberReplaced", "Bram is van functie gewisseld.", "acc-organiser-1")


async def test_the_member_to_replace_can_be_named_by_its_id() -> None:
    t = Trio()
    rid = await t.register()
    bram = t.registrations.row(rid).members[1].member_id
    (replaced,) = await replace(t, registration_id=rid, member_index=None, member_id=bram)
    assert replaced.position == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"member_index": None}, [("member_index", "member_required")]),
        ({"member_id": "m-1"}, [("member_index", "member_required")]),
        ({"member_index": None, "member_id": "gone"}, [("member_id", "unknown_member")]),
    ],
)
async def test_a_replacement_must_name_one_member(fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    t = Trio()
    rid = await t.register()
    assert await t.refused(replace(t, registration_id=rid, **fields)) == expected
    assert t.history.of(rid)[-1][0] == "registration.ApprovalRequested"  # nothing recorded


async def test_the_trio_after_a_replacement_keeps_to_the_intake_rules() -> None:
    t = Trio()
    rid = await t.register()
    anna = {**NOOR, "email": "anna.de.vries@barneveld.nl"}
    assert await t.refused(replace(t, registration_id=rid, member=anna)) == [("member.email", "duplicate_member")]
    approver = {**NOOR, "email": "dirk.visser@barneveld.nl"}
    assert await t.refused(replace(t, registration_id=rid, member=approver)) == [("member.email", "approver_is_member")]
    # Anna (sociaal) is the only wijkambtenaar, Bram is fysiek, Chloé veiligheid.
    assert await t.refused(replace(t, registration_id=rid, member_index=0)) == [("member.role", "no_wijkambtenaar")]
    same_domain = {**NOOR, "role": "wijkambtenaar", "domain": "fysiek"}
    await replace(t, registration_id=rid, member_index=2, member=same_domain)  # sociaal, fysiek, fysiek: fine
    single = {**NOOR, "email": "x@barneveld.nl", "domain": "fysiek", "role": "wijkambtenaar"}
    assert await t.refused(replace(t, registration_id=rid, member_index=0, member=single)) == [
        ("member.domain", "single_domain")
    ]


async def test_someone_in_another_active_trio_of_the_edition_cannot_join() -> None:
    t = Trio()
    rid = await t.register()
    other = await t.register(trio(members=[{**m, "email": "ander." + m["email"]} for m in trio()["members"]]))
    taken = {**NOOR, "email": "ander.bram.jansen@barneveld.nl"}
    assert await t.refused(replace(t, registration_id=rid, member=taken)) == [
        ("member.email", "member_already_registered")
    ]
    await t.cancel(other)
    await replace(t, registration_id=rid, member=taken)  # a cancelled trio frees its members


async def test_an_ended_or_erased_or_unknown_registration_has_no_member_to_replace() -> None:
    t = Trio()
    cancelled = await t.register()
    await t.cancel(cancelled)
    erased = await t.register()  # the same three: the cancelled trio freed them
    await t.erase(erased)
    assert await t.refused(replace(t, registration_id=cancelled)) == [("registration_id", "already_cancelled")]
    assert await t.refused(replace(t, registration_id=erased)) == [("registration_id", "data_erased")]
    assert await t.refused(replace(t, registration_id="nope")) == [("registration_id", "unknown_registration")]


@dataclass
class SentInvoice:
    number: str


class FakeBilling:
    """The one issued invoice of a registration, and where its later mails go."""

    def __init__(self, number: str | None, recipient: str) -> None:
        self.number, self.recipient = number, recipient

    async def of_registration(self, registration_id: str, *, for_update: bool = False) -> SentInvoice | None:
        return SentInvoice(self.number) if self.number else None

    async def redirect(self, registration_id: str, old_email: str, recipient: Any) -> None:
        if self.recipient == old_email:
            self.recipient = recipient.email


def with_invoicing(t: Trio, number: str | None, recipient: str) -> FakeBilling:
    billing = FakeBilling(number, recipient)
    t.invoicing = Invoicing(billing=billing, policy=None, links=None, history=t.history)
    return billing


async def test_invoice_mails_that_went_to_the_member_who_left_go_to_the_trios_wijkambtenaar() -> None:
    t = Trio()
    rid = await t.register(
        trio(municipality=SMALL, invoice={"address": "Postbus 1\n9460 AA Gieten", "reference": "PO-7"})
    )
    billing = with_invoicing(t, "WP-2027-0001", "anna.de.vries@barneveld.nl")
    new_wijkambtenaar = {**NOOR, "role": "wijkambtenaar", "domain": "sociaal"}
    await replace(t, registration_id=rid, member_index=0, member=new_wijkambtenaar)
    assert billing.recipient == "noor.elamrani@barneveld.nl"


# Deciding on the approver's behalf


async def test_an_organisers_decision_on_the_approvers_behalf_keeps_its_reason_and_who_gave_it() -> None:
    t = Trio()
    approve, decline = (
        await t.register(),
        await t.register(trio(members=[{**m, "email": "2" + m["email"]} for m in trio()["members"]])),
    )
    (approved,) = await t.decide(
        registration_id=approve, by_organizer=True, actor=ORGANISER, reason="Akkoord per mail van de wethouder."
    )
    (declined,) = await t.decide(
        False, registration_id=decline, by_organizer=True, actor=ORGANISER, reason="Geen tijd."
    )
    assert isinstance(approved, RegistrationApproved) and approved.reason == "Akkoord per mail van de wethouder."
    assert isinstance(declined, RegistrationDeclined) and declined.by_organizer is True
    assert t.history.of(approve)[-1] == (
        "registration.RegistrationApproved",
        "Akkoord per mail van de wethouder.",
        "acc-organiser-1",
    )
    assert t.registrations.states[approve].decision_reason == "Akkoord per mail van de wethouder."


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        (None, "actor_required"),
        (VIEWER, "actor_not_organiser"),
        ({**ORGANISER, "role": "facilitator"}, "actor_not_organiser"),
    ],
)
async def test_deciding_on_the_approvers_behalf_needs_an_organisers_actor(actor: Any, code: str) -> None:
    t = Trio()
    rid = await t.register()
    assert await t.refused(t.decide(registration_id=rid, by_organizer=True, actor=actor)) == [("actor", code)]
    assert t.registrations.status(rid) == "awaiting_approval"


# Correcting a registration


CASE = {
    "title": "Groene pleinen en veilige routes",
    "neighbourhood": "Centrum",
    "summary": "Pleinen aanpassen met bewoners en wijkagent.",
    "domains": ["fysiek", "sociaal", "veiligheid"],
}


async def test_correcting_the_case_names_what_changed_and_publishes_the_new_case() -> None:
    t = Trio()
    rid = await t.register()
    (corrected,) = await correct(t, registration_id=rid, case=CASE)
    assert isinstance(corrected, RegistrationCorrected)
    assert corrected.changed == ["case.title", "case.summary", "case.domains"]
    assert corrected.case is not None and corrected.case.title == CASE["title"]
    assert t.registrations.row(rid).case.title == CASE["title"]
    assert t.history.of(rid)[-1] == (
        "registration.RegistrationCorrected",
        "Op verzoek van de gemeente.",
        "acc-organiser-1",
    )
    assert t.history.entries[-1].summary == (
        "Gecorrigeerd: titel van de casus, beschrijving van de casus, beleidsdomeinen van de casus"
    )


async def test_invoice_details_are_corrected_until_the_invoice_is_issued() -> None:
    t = Trio()
    invoice = {"address": "Postbus 1\n9460 AA Gieten", "reference": "PO-7"}
    rid = await t.register(trio(municipality=SMALL, invoice=invoice))
    with_invoicing(t, None, "anna.de.vries@barneveld.nl")
    (corrected,) = await correct(t, registration_id=rid, invoice={**invoice, "reference": "PO-8"})
    assert corrected.changed == ["invoice.reference"] and corrected.case is None
    assert t.registrations.row(rid).invoice.reference == "PO-8"  # type: ignore[union-attr]

    with_invoicing(t, "WP-2027-0004", "anna.de.vries@barneveld.nl")
    assert await t.refused(correct(t, registration_id=rid, invoice={**invoice, "reference": "PO-9"})) == [
        ("invoice", "invoice_already_issued")
    ]
    await correct(t, registration_id=rid, case=CASE)  # the case may still be corrected


async def test_a_correction_that_changes_nothing_or_breaks_an_intake_rule_is_refused() -> None:
    t = Trio()
    rid = await t.register()
    assert await t.refused(correct(t, registration_id=rid)) == [("", "nothing_to_correct")]
    assert await t.refused(correct(t, registration_id=rid, case=trio()["case"])) == [("", "nothing_to_correct")]
    assert await t.refused(correct(t, registration_id=rid, case={**CASE, "title": " ", "domains": ["fysiek"]})) == [
        ("case.title", "case_incomplete"),
        ("case.domains", "case_single_domain"),
    ]


async def test_a_paying_trios_invoice_details_cannot_be_blanked() -> None:
    t = Trio()
    rid = await t.register(
        trio(municipality=SMALL, invoice={"address": "Postbus 1\n9460 AA Gieten", "reference": "PO"})
    )
    assert await t.refused(correct(t, registration_id=rid, invoice={"address": "Postbus 1", "reference": ""})) == [
        ("invoice.reference", "invoice_required")
    ]


# The history


async def test_the_history_follows_what_happened_and_leaves_out_a_stale_placement() -> None:
    t = Trio()
    rid = await t.register()
    await t.decide(registration_id=rid, token=t.token)
    await t.place(waitlisted(rid, 2), NOW + timedelta(minutes=1))
    await t.place(waitlisted(rid, 3), NOW)  # older: changes nothing, so it tells nothing
    await t.place(placed(rid), NOW + timedelta(minutes=2))
    await t.cancel(rid, reason="Ziekte in het team.")
    assert [(e.event, e.summary) for e in t.history.entries] == [
        ("registration.TrioRegistered", "Aangemeld via het aanmeldformulier"),
        (
            "registration.ApprovalRequested",
            "Goedkeuring gevraagd aan de bestuurder of manager (link geldig tot 15 september 2027, 14:00 uur)",
        ),
        ("registration.RegistrationApproved", "Goedgekeurd door de goedkeurder"),
        ("scheduling.TrioWaitlisted", "Op de wachtlijst, plaats 2"),
        ("scheduling.TrioPlaced", "Geplaatst bij de toewijzing van de plaatsen"),
        ("registration.RegistrationCancelled", "Geannuleerd"),
    ]
    assert t.history.entries[3].at == NOW + timedelta(minutes=1)  # when scheduling decided, not when it arrived
    assert t.history.entries[-1].reason == "Ziekte in het team."


async def test_erasure_blanks_the_reasons_in_the_history_and_is_in_it_itself() -> None:
    t = Trio()
    rid = await t.register()
    await t.cancel(rid, reason="Anna de Vries is ziek.")
    await t.erase(rid)
    assert t.history.of(rid)[-2:] == [
        ("registration.RegistrationCancelled", ERASED, None),
        ("registration.ParticipantDataErased", None, None),
    ]
