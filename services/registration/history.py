"""A registration's history: one short Dutch line per event about it, for the organisers' detail view. Pure: no I/O.

An entry is written in the unit of work that emits the event (registration's own) or applies it (scheduling's
places), so the history never tells something that did not happen. Summaries name no person and hold no address:
they survive erasure as they are; only the reason (free text an organiser or participant typed) is erased.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contract import Actor, EventData
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    InvoiceResent,
    MemberReplaced,
    ParticipantDataErased,
    PaymentRegistered,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationCorrected,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import PlaceReleased, SeatingPlanned, TrioPlaced, TrioSeated, TrioWaitlisted
from shared.formatting import dutch_date, dutch_datetime, euro

SUMMARY_LENGTH = 500  # the column's width


@dataclass(frozen=True)
class HistoryEntry:
    registration_id: str
    at: datetime
    event: str  # the event's routing key, e.g. `scheduling.TrioPlaced`
    summary: str
    reason: str | None = None
    actor: str | None = None  # the console account's id (Actor.account_id); None: a participant, approver or system


def _registered(e: TrioRegistered) -> str:
    return "Aangemeld via de chat" if e.channel == "chat" else "Aangemeld via het aanmeldformulier"


def _approval_requested(e: ApprovalRequested) -> str:
    if e.held:
        return (
            "Goedkeuringsverzoek aangehouden, niet gemaild: naar dit adres of van deze afzender gingen het afgelopen "
            "etmaal al zoveel verzoeken als er per dag mogen. Een organisator kan het alsnog versturen met een "
            "nieuw goedkeuringsverzoek"
        )
    return f"Goedkeuring gevraagd aan de bestuurder of manager (link geldig tot {dutch_datetime(e.expires_at)})"


def _approved(e: RegistrationApproved) -> str:
    return (
        "Goedgekeurd door de organisatie namens de goedkeurder" if e.by_organizer else "Goedgekeurd door de goedkeurder"
    )


def _declined(e: RegistrationDeclined) -> str:
    return "Afgewezen door de organisatie namens de goedkeurder" if e.by_organizer else "Afgewezen door de goedkeurder"


# What RegistrationCorrected.changed names, as the history says it.
CORRECTED_LABELS = {
    "case.title": "titel van de casus",
    "case.neighbourhood": "wijk of buurt",
    "case.summary": "beschrijving van de casus",
    "case.domains": "beleidsdomeinen van de casus",
    "invoice.address": "factuuradres",
    "invoice.reference": "inkoop- of ordernummer",
    "invoice.email": "e-mailadres voor facturen",
}


def _corrected(e: RegistrationCorrected) -> str:
    return "Gecorrigeerd: " + ", ".join(CORRECTED_LABELS.get(name, name) for name in e.changed)


PLACED_VIA = {
    "allocation": "Geplaatst bij de toewijzing van de plaatsen",
    "direct": "Direct geplaatst (er was een plaats vrij)",
    "waitlist": "Geplaatst vanaf de wachtlijst",
}
RELEASED_BECAUSE = {"cancelled": " (de aanmelding is geannuleerd)", "declined": " (de aanmelding is afgewezen)"}

SUMMARIES: Mapping[type[EventData], Callable[[Any], str]] = {
    TrioRegistered: _registered,
    ApprovalRequested: _approval_requested,
    RegistrationApproved: _approved,
    RegistrationDeclined: _declined,
    RegistrationCancelled: lambda e: "Geannuleerd",
    ParticipantDataErased: lambda e: "Persoonsgegevens verwijderd",
    MemberReplaced: lambda e: f"Lid {e.position + 1} van het trio vervangen door een nieuw lid",
    RegistrationCorrected: _corrected,
    InvoiceIssued: lambda e: (
        f"Factuur {e.invoice_number} gemaakt ({euro(e.total_cents)}, te betalen vóór {dutch_date(e.due_date)})"
    ),
    InvoiceResent: lambda e: f"Factuur {e.invoice_number} opnieuw verstuurd naar het factuuradres",
    CreditNoteIssued: lambda e: (
        f"Creditnota {e.credit_note_number} voor factuur {e.invoice_number} gemaakt ({euro(e.total_cents)})"
    ),
    PaymentRegistered: lambda e: (
        f"Betaling van {euro(e.amount_cents)} op factuur {e.invoice_number} ontvangen; nog open: {euro(e.open_cents)}"
    ),
    InvoiceOverdue: lambda e: (
        f"Factuur {e.invoice_number} is over de betaaltermijn: er staat nog {euro(e.open_cents)} open"
    ),
    TrioPlaced: lambda e: PLACED_VIA.get(e.via, "Geplaatst"),
    TrioWaitlisted: lambda e: f"Op de wachtlijst, plaats {e.position}",
    PlaceReleased: lambda e: "Plaats vrijgegeven" + RELEASED_BECAUSE.get(e.reason or "", ""),
}
# Events whose `reason` is free text someone typed (PlaceReleased's is a code, shown in its summary).
FREE_TEXT_REASONS = (
    RegistrationApproved,
    RegistrationDeclined,
    RegistrationCancelled,
    MemberReplaced,
    RegistrationCorrected,
)


def entry_for(event: EventData, at: datetime, actor: Actor | None = None) -> HistoryEntry | None:
    """The history line of an event about one registration; None for an event the history does not show."""
    summary = SUMMARIES.get(type(event))
    registration_id = getattr(event, "registration_id", None)
    if summary is None or not isinstance(registration_id, str):
        return None
    # A scheduling event may come to carry its own reason and actor (a trio placed by hand); shown when it does.
    reason = getattr(event, "reason", None) if isinstance(event, FREE_TEXT_REASONS) or _typed_reason(event) else None
    given_by = actor or getattr(event, "actor", None)
    return HistoryEntry(
        registration_id=registration_id,
        at=at,
        event=event.routing_key,
        summary=summary(event)[:SUMMARY_LENGTH],
        reason=reason or None,
        actor=given_by.account_id if isinstance(given_by, Actor) else None,
    )


def _typed_reason(event: EventData) -> bool:
    return isinstance(event, (TrioPlaced, TrioWaitlisted)) and isinstance(getattr(event, "reason", None), str)


def seating_entries(event: SeatingPlanned, changed: Mapping[str, int], at: datetime) -> list[HistoryEntry]:
    """A line for each trio whose table in the session is new or changed (`changed`, as the store found it); a
    replan that keeps a trio's table says nothing about it."""
    return [
        _seat_entry(event, registration_id, event.session_number, table.table, at)
        for table in event.tables
        for registration_id in table.registration_ids
        if registration_id in changed
    ]


def trio_seat_entries(event: TrioSeated, changed: Mapping[int, int], at: datetime) -> list[HistoryEntry]:
    """A line for each session in which the trio's table is new or changed (`changed`: session number -> table)."""
    return [
        _seat_entry(event, event.registration_id, seat.session_number, seat.table, at)
        for seat in event.seats
        if seat.session_number in changed
    ]


def _seat_entry(event: EventData, registration_id: str, session_number: int, table: int, at: datetime) -> HistoryEntry:
    return HistoryEntry(
        registration_id=registration_id,
        at=at,
        event=event.routing_key,
        summary=f"Tafel {table} bij bijeenkomst {session_number}",
    )
