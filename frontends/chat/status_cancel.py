"""The room's trio and the programme: its status, the open editions' sessions, and cancelling the registration."""

from __future__ import annotations

from datetime import datetime

from shared.contract import Reply
from shared.contract.registration import CancelRegistration
from shared.contract.scheduling import EditionScheduled
from shared.formatting import dutch_datetime

from .binding import CHECK_MAIL
from .conversation import ACTIVE, NO, NO_EDITION, YES, Context, Dialogue, Outcome, error_lines

STATUS_TEXT = {
    "awaiting_approval": "wacht op goedkeuring door jullie bestuurder of leidinggevende",
    "approved": "goedgekeurd; na de verdeling van de plaatsen horen jullie of jullie trio een plaats heeft",
    "placed": "geplaatst: jullie trio heeft een plaats",
    "waitlisted": "op de wachtlijst",
    "declined": "niet goedgekeurd",
    "cancelled": "geannuleerd",
}


def status_text(ctx: Context) -> str:
    r = ctx.registration
    if r is None and ctx.unbound:
        return "Vanuit dit gesprek is een trio aangemeld, maar dit gesprek volgt die aanmelding nog niet. " + CHECK_MAIL
    if r is None:
        return "Vanuit dit gesprek is nog geen trio aangemeld. Typ 'aanmelden' om te beginnen."
    status = STATUS_TEXT.get(r.status, r.status)
    if r.status == "waitlisted" and r.waitlist_position:
        status += f", op plaats {r.waitlist_position}"
    return (
        f"De aanmelding van {r.municipality} voor {r.edition}: {status}.\n"
        f"Meer details: {ctx.status_link(r.registration_id)}"
    )


def programme_text(ctx: Context) -> str:
    if not ctx.editions:
        return NO_EDITION
    parts = []
    for e in ctx.editions:
        lines = [f"{e.title} ({e.edition}) in {e.venue.name}, {e.venue.address}, {e.venue.city}:"]
        for s in sorted(e.sessions, key=lambda s: s.number):
            lines.append(
                f"Bijeenkomst {s.number}: {s.title}, {dutch_datetime(s.starts_at)} tot "
                f"{dutch_datetime(s.ends_at).rsplit(', ', 1)[-1]}"
            )
        lines.append(f"Aanmelden kan tot {dutch_datetime(e.registration_closes_at)}.")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def start_cancel(d: Dialogue, ctx: Context) -> Outcome:
    r = ctx.registration
    if r is None and any(u.status in ACTIVE for u in ctx.unbound):
        return Outcome(d, ["Annuleren kan hier pas als dit gesprek jullie aanmelding volgt. " + CHECK_MAIL])
    if r is None or r.status not in ACTIVE:
        return Outcome(d, ["Er is vanuit dit gesprek geen lopende aanmelding om te annuleren."])
    return Outcome(
        Dialogue(flow="annuleren"),
        [
            f"Weet je zeker dat je de aanmelding van {r.municipality} voor {r.edition} wilt annuleren? "
            "Een plaats die jullie hebben, gaat dan naar een ander trio. Antwoord ja of nee."
        ],
    )


def confirm_cancel(d: Dialogue, word: str, ctx: Context) -> Outcome:
    if word in NO:
        return Outcome(Dialogue(), ["Goed, de aanmelding blijft staan."])
    if word not in YES:
        return Outcome(d, ["Antwoord ja om de aanmelding te annuleren, of nee om haar te laten staan."])
    if ctx.registration is None:
        return Outcome(Dialogue(), ["Er is vanuit dit gesprek geen lopende aanmelding om te annuleren."])
    command = CancelRegistration(registration_id=ctx.registration.registration_id, reason="Geannuleerd via de chat.")
    return Outcome(d, ["Ik annuleer de aanmelding…"], command)


def cancel_outcome(reply: Reply) -> Outcome:
    if reply.status == "accepted" or {e.code for e in reply.errors} == {"already_cancelled"}:
        return Outcome(Dialogue(), ["De aanmelding is geannuleerd."])
    return Outcome(Dialogue(), ["Annuleren is niet gelukt:\n" + error_lines(reply.errors)])


def is_open(edition: EditionScheduled, closed: bool, now: datetime) -> bool:
    return not closed and now < edition.registration_closes_at
