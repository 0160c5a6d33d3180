"""The conversation, without I/O: what the bot answers to a participant's line, and to a command's outcome.

A room's `Dialogue` is plain data (stored as JSON, so a restart continues where it was). Registering is a list of
steps, each a question and a parser of its answer; the next question is always the first applicable step not yet
answered. Correcting a field (a refusal from the registration service, or the participant's "nee" at the summary)
therefore only forgets that field's answer: the dialogue asks for just that again and shows the summary once more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from services.registration.web import FIELD_LABELS, MunicipalityIndex, anchor_for, dutch_datetime, euro
from shared.contract import Command, ErrorItem, Reply
from shared.contract.common import Channel
from shared.contract.registration import CancelRegistration, RegisterTrio
from shared.contract.scheduling import EditionScheduled

ORDINALS = ("eerste", "tweede", "derde")
ROLES = {"1": "wijkambtenaar", "2": "sectorambtenaar"}
DOMAINS = ("fysiek", "sociaal", "veiligheid", "economie", "bestuur", "overig")
YES = {"ja", "j", "yes", "y", "ok", "oké", "akkoord", "klopt"}
NO = {"nee", "n", "no"}
STOP = {"stop", "stoppen", "afbreken"}
STATUS_TEXT = {
    "awaiting_approval": "wacht op goedkeuring door jullie bestuurder of leidinggevende",
    "approved": "goedgekeurd; na de verdeling van de plaatsen horen jullie of jullie trio een plaats heeft",
    "placed": "geplaatst: jullie trio heeft een plaats",
    "waitlisted": "op de wachtlijst",
    "declined": "niet goedgekeurd",
    "cancelled": "geannuleerd",
}
ACTIVE = ("awaiting_approval", "approved", "placed", "waitlisted")
HELP = ("Ik ben de chatbot van Werkplaatsen wijkgericht werken. Typ:\n"
        "- aanmelden: een trio aanmelden voor de werkplaatsen\n"
        "- status: de stand van jullie aanmelding\n"
        "- programma: de bijeenkomsten van de editie waarvoor je je nu kunt aanmelden\n"
        "- annuleren: jullie aanmelding intrekken\n"
        "Tijdens het aanmelden stopt 'stop' het gesprek.")
_email = TypeAdapter(EmailStr)


class Invalid(Exception):
    """An answer the step cannot use; the message (Dutch) says why and what to type instead."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.candidates = candidates or []


@dataclass
class Dialogue:
    flow: str | None = None  # "aanmelden", "annuleren" or None
    answers: dict[str, Any] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)  # the municipality codes last suggested
    waiting_for: str | None = None  # message_id of the command whose outcome is awaited

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Dialogue:
        return cls(**data) if data else cls()


@dataclass(frozen=True)
class RoomRegistration:
    registration_id: str
    edition: str
    municipality: str
    status: str
    waitlist_position: int | None


@dataclass(frozen=True)
class Context:
    """What a reply depends on besides the dialogue: the open editions, the municipalities, the room's trio."""

    editions: list[EditionScheduled]  # open for registration, earliest first
    municipalities: MunicipalityIndex
    registration: RoomRegistration | None
    room_id: str
    status_link: Callable[[str], str]


@dataclass
class Outcome:
    dialogue: Dialogue
    messages: list[str] = field(default_factory=list)
    command: Command | None = None


# Steps of `aanmelden`


@dataclass(frozen=True)
class Step:
    key: str
    question: Callable[[Context, dict[str, Any]], str]
    parse: Callable[[str, Context, Dialogue], Any]
    applies: Callable[[Context, dict[str, Any]], bool] = lambda _ctx, _answers: True


def text_answer(limit: int) -> Callable[[str, Context, Dialogue], str]:
    def parse(text: str, _ctx: Context, _d: Dialogue) -> str:
        if not text:
            raise Invalid("Dit mag niet leeg zijn.")
        if len(text) > limit:
            raise Invalid(f"Dat is te lang: maximaal {limit} tekens.")
        return text
    return parse


def email_answer(text: str, _ctx: Context, _d: Dialogue) -> str:
    try:
        return str(_email.validate_python(text))
    except ValidationError:
        raise Invalid("Dat is geen geldig e-mailadres. Typ het e-mailadres, bijvoorbeeld naam@gemeente.nl.") from None


def choice_answer(options: dict[str, str], what: str) -> Callable[[str, Context, Dialogue], str]:
    def parse(text: str, _ctx: Context, _d: Dialogue) -> str:
        word = text.casefold().strip(" .")
        if word in options:
            return options[word]
        found = [value for value in set(options.values()) if value.startswith(word)] if word else []
        if len(found) == 1:
            return found[0]
        raise Invalid(f"Dat herken ik niet als {what}. Antwoord met een van de nummers of namen.")
    return parse


def yes_no(text: str, _ctx: Context, _d: Dialogue) -> bool:
    word = text.casefold().strip(" .!")
    if word in YES:
        return True
    if word in NO:
        return False
    raise Invalid("Antwoord met ja of nee.")


def domains_answer(text: str, _ctx: Context, _d: Dialogue) -> list[str]:
    parse = choice_answer(numbered(DOMAINS), "beleidsdomein")
    chosen: list[str] = []
    for part in (p for p in re.split(r"[,;]|\s+en\s+|\s+", text) if p.strip()):
        domain = parse(part, _ctx, _d)
        if domain not in chosen:
            chosen.append(domain)
    if not chosen:
        raise Invalid("Noem de beleidsdomeinen, gescheiden door komma's.")
    return chosen


def numbered(values: Iterable[str]) -> dict[str, str]:
    values = list(values)
    return {**{str(i): v for i, v in enumerate(values, start=1)}, **{v: v for v in values}}


def edition_answer(text: str, ctx: Context, _d: Dialogue) -> str:
    slugs = [e.edition for e in ctx.editions]
    word = text.strip().casefold()
    if word.isdigit() and 1 <= int(word) <= len(slugs):
        return slugs[int(word) - 1]
    if word in slugs:
        return word
    raise Invalid("Kies een editie met het nummer uit de lijst.")


def edition_question(ctx: Context, _answers: dict[str, Any]) -> str:
    lines = [f"{i}. {e.title} ({e.edition}), eerste bijeenkomst {dutch_datetime(e.sessions[0].starts_at, False)}"
             for i, e in enumerate(ctx.editions, start=1)]
    return "Voor welke editie melden jullie je aan?\n" + "\n".join(lines)


def municipality_answer(text: str, ctx: Context, d: Dialogue) -> str:
    word = text.strip()
    if word.isdigit() and d.candidates and 1 <= int(word) <= len(d.candidates):
        return d.candidates[int(word) - 1]
    found, candidates = ctx.municipalities.resolve(word)
    if found is not None:
        return found.code
    if candidates:
        lines = [f"{i}. {m.name} ({m.province})" for i, m in enumerate(candidates, start=1)]
        raise Invalid("Welke gemeente bedoel je?\n" + "\n".join(lines) + "\nAntwoord met het nummer of de naam.",
                      candidates=[m.code for m in candidates])
    raise Invalid(f"De gemeente '{word}' kan ik niet vinden. Typ de naam van de gemeente, bijvoorbeeld Veenendaal.")


def municipality_name(ctx: Context, answers: dict[str, Any]) -> str:
    found = ctx.municipalities.get(answers.get("municipality", ""))
    return found.name if found else "jullie gemeente"


def chosen_edition(ctx: Context, answers: dict[str, Any]) -> EditionScheduled | None:
    return next((e for e in ctx.editions if e.edition == answers.get("edition")), None)


def fee_due(ctx: Context, answers: dict[str, Any]) -> bool:
    """Whether the municipality pays the edition's fee, so invoice details are needed (the service decides too)."""
    edition, municipality = chosen_edition(ctx, answers), ctx.municipalities.get(answers.get("municipality", ""))
    if edition is None or municipality is None:
        return False
    return edition.fee.amount_cents > 0 and municipality.size_class not in edition.fee.waived_for_size_classes


def member_name(i: int) -> Callable[[dict[str, Any]], str]:
    return lambda answers: answers.get(f"members.{i}.name", f"het {ORDINALS[i]} lid")


def member_steps(i: int) -> list[Step]:
    name = member_name(i)
    first = "Nu de drie leden van het trio. " if i == 0 else ""
    return [
        Step(f"members.{i}.name", lambda _c, _a: f"{first}Wat is de naam van het {ORDINALS[i]} lid?", text_answer(200)),
        Step(f"members.{i}.email", lambda _c, a: f"Wat is het e-mailadres van {name(a)}?", email_answer),
        Step(f"members.{i}.role",
             lambda _c, a: f"Is {name(a)} 1. wijkambtenaar of 2. sectorambtenaar (collega van een beleidsafdeling)?",
             choice_answer({**ROLES, **{v: v for v in ROLES.values()}}, "rol")),
        Step(f"members.{i}.domain",
             lambda _c, a: f"Welk beleidsdomein vertegenwoordigt {name(a)}? "
                           + ", ".join(f"{n}. {d}" for n, d in enumerate(DOMAINS, start=1)),
             choice_answer(numbered(DOMAINS), "beleidsdomein")),
        Step(f"members.{i}.language",
             lambda _c, a: f"In welke taal krijgt {name(a)} de e-mails: nl (Nederlands) of en (English)?",
             choice_answer({"nl": "nl", "nederlands": "nl", "en": "en", "engels": "en", "english": "en"}, "taal")),
    ]


STEPS: list[Step] = [
    Step("edition", edition_question, edition_answer),
    Step("municipality", lambda _c, _a: "Voor welke gemeente melden jullie je aan? Typ de naam van de gemeente.",
         municipality_answer),
    *member_steps(0), *member_steps(1), *member_steps(2),
    Step("case.title", lambda _c, _a: "Nu jullie casus: een strategische opgave met een wijkcomponent. "
                                      "Wat is de titel van de casus?", text_answer(200)),
    Step("case.neighbourhood", lambda _c, _a: "In welke wijk of buurt speelt de casus?", text_answer(200)),
    Step("case.summary", lambda _c, _a: "Beschrijf de casus in een paar zinnen.", text_answer(5000)),
    Step("case.domains", lambda _c, _a: "Welke beleidsdomeinen verbindt de casus? Noem er minstens twee, "
                                        "gescheiden door komma's: " + ", ".join(DOMAINS) + ".", domains_answer),
    Step("approver.name", lambda _c, _a: "Wie keurt jullie deelname goed (bestuurder of leidinggevende)? "
                                         "Wat is de naam?", text_answer(200)),
    Step("approver.email", lambda _c, a: f"Wat is het e-mailadres van {a.get('approver.name', 'de goedkeurder')}?",
         email_answer),
    Step("invoice.address",
         lambda c, a: f"Voor {municipality_name(c, a)} geldt een eigen bijdrage van "
                      f"{euro(chosen_edition(c, a).fee.amount_cents) if chosen_edition(c, a) else 'de'} per trio. "
                      "Wat is het factuuradres? Zet postcode en plaats op de laatste regel.", text_answer(1000),
         fee_due),
    Step("invoice.reference", lambda _c, _a: "Wat is het inkoop- of ordernummer van de gemeente?", text_answer(200),
         fee_due),
    Step("consent.privacy", lambda _c, _a: "Geven jullie toestemming voor het verwerken van jullie "
                                           "persoonsgegevens voor de werkplaatsen? Antwoord ja of nee.", yes_no),
    Step("consent.publish_municipality_name",
         lambda c, a: f"Mag de naam {municipality_name(c, a)} genoemd worden in de openbare verslagen? "
                      "Antwoord ja of nee.", yes_no),
]
BY_KEY = {s.key: s for s in STEPS}
# What the participant can name at the summary to change it.
PARTS = {
    "editie": ["edition"], "gemeente": ["municipality"],
    **{f"lid {i + 1}": [s.key for s in member_steps(i)] for i in range(3)},
    "casus": ["case.title", "case.neighbourhood", "case.summary", "case.domains"],
    "goedkeurder": ["approver.name", "approver.email"], "factuur": ["invoice.address", "invoice.reference"],
    "toestemming": ["consent.privacy", "consent.publish_municipality_name"],
}


def next_step(ctx: Context, answers: dict[str, Any]) -> Step | None:
    return next((s for s in STEPS if s.key not in answers and s.applies(ctx, answers)), None)


# Answering a line


def respond(d: Dialogue, text: str, ctx: Context) -> Outcome:
    text = text.strip()
    word = text.casefold().strip(" .!?")
    if d.waiting_for:
        if word == "status":
            return Outcome(d, [status_text(ctx)])
        return Outcome(d, ["Even geduld: ik wacht nog op het antwoord op jullie vorige verzoek."])
    if d.flow and word in STOP:
        return Outcome(Dialogue(), ["Gestopt. Typ 'aanmelden' om opnieuw te beginnen of 'hulp' voor wat ik kan."])
    if d.flow == "aanmelden":
        return answer_step(d, text, ctx)
    if d.flow == "annuleren":
        return confirm_cancel(d, word, ctx)
    if word == "aanmelden":
        return start_registration(ctx)
    if word == "status":
        return Outcome(d, [status_text(ctx)])
    if word == "programma":
        return Outcome(d, [programme_text(ctx)])
    if word == "annuleren":
        return start_cancel(d, ctx)
    return Outcome(d, [HELP])


def start_registration(ctx: Context) -> Outcome:
    if ctx.registration is not None and ctx.registration.status in ACTIVE:
        return Outcome(Dialogue(), ["Vanuit dit gesprek is al een trio aangemeld. Typ 'status' voor de stand, of "
                                    "'annuleren' om die aanmelding in te trekken."])
    if not ctx.editions:
        return Outcome(Dialogue(), ["Op dit moment is er geen editie waarvoor je je kunt aanmelden."])
    d = Dialogue(flow="aanmelden")
    intro = ["Fijn dat jullie je aanmelden! Ik stel een aantal vragen; met 'stop' breek je af."]
    if len(ctx.editions) == 1:
        only = ctx.editions[0]
        d.answers["edition"] = only.edition
        intro.append(f"Jullie melden je aan voor {only.title} ({only.edition}).")
    return ask_next(d, ctx, intro)


def answer_step(d: Dialogue, text: str, ctx: Context) -> Outcome:
    step = next_step(ctx, d.answers)
    if step is None:
        return confirm_registration(d, text, ctx)
    try:
        d.answers[step.key] = step.parse(text, ctx, d)
    except Invalid as bad:
        d.candidates = bad.candidates or d.candidates
        return Outcome(d, [bad.message])
    d.candidates = []
    return ask_next(d, ctx)


def ask_next(d: Dialogue, ctx: Context, before: list[str] | None = None) -> Outcome:
    step = next_step(ctx, d.answers)
    text = step.question(ctx, d.answers) if step else summary(d, ctx)
    return Outcome(d, [*(before or []), text])


def confirm_registration(d: Dialogue, text: str, ctx: Context) -> Outcome:
    word = text.casefold().strip(" .!")
    if word in YES:
        return Outcome(d, ["Ik verstuur de aanmelding…"], register_command(d, ctx))
    parts = [key for part, keys in PARTS.items() if part in word for key in keys]
    if word in NO or (word and not parts):
        return Outcome(d, ["Wat wil je wijzigen? Noem het onderdeel: " + ", ".join(PARTS) + "."])
    for key in parts:
        d.answers.pop(key, None)
    return ask_next(d, ctx)


def summary(d: Dialogue, ctx: Context) -> str:
    a = d.answers
    edition = chosen_edition(ctx, a)
    lines = ["Dit is jullie aanmelding:",
             f"Editie: {edition.title if edition else ''} ({a.get('edition')})",
             f"Gemeente: {municipality_name(ctx, a)}"]
    for i in range(3):
        lines.append(f"Lid {i + 1}: {a[f'members.{i}.name']} <{a[f'members.{i}.email']}>, "
                     f"{a[f'members.{i}.role']}, {a[f'members.{i}.domain']}, taal {a[f'members.{i}.language']}")
    lines += [f"Casus: {a['case.title']} ({a['case.neighbourhood']}), domeinen {', '.join(a['case.domains'])}",
              f"Beschrijving: {a['case.summary']}",
              f"Goedkeurder: {a['approver.name']} <{a['approver.email']}>"]
    if "invoice.address" in a:
        lines.append(f"Factuur: {a['invoice.address']}, referentie {a['invoice.reference']}")
    lines += [f"Toestemming persoonsgegevens: {'ja' if a['consent.privacy'] else 'nee'}; naam gemeente in "
              f"verslagen: {'ja' if a['consent.publish_municipality_name'] else 'nee'}",
              "Klopt dit? Antwoord 'ja' om te versturen, of noem wat je wilt wijzigen (bijvoorbeeld 'lid 2' of "
              "'goedkeurder')."]
    return "\n".join(lines)


def register_command(d: Dialogue, ctx: Context) -> RegisterTrio:
    a = d.answers
    invoice = ({"address": a["invoice.address"], "reference": a["invoice.reference"]}
               if "invoice.address" in a and "invoice.reference" in a else None)
    return RegisterTrio.model_validate({
        "edition": a["edition"],
        "municipality": a["municipality"],
        "members": [{"name": a[f"members.{i}.name"], "email": a[f"members.{i}.email"],
                     "role": a[f"members.{i}.role"], "domain": a[f"members.{i}.domain"],
                     "language": a[f"members.{i}.language"]} for i in range(3)],
        "case": {"title": a["case.title"], "neighbourhood": a["case.neighbourhood"], "summary": a["case.summary"],
                 "domains": a["case.domains"]},
        "approver": {"name": a["approver.name"], "email": a["approver.email"]},
        "consent": {"privacy": a["consent.privacy"],
                    "publish_municipality_name": a["consent.publish_municipality_name"]},
        "invoice": invoice,
        "channel": Channel.chat,
        "chat_id": ctx.room_id,
    })


# The outcome of a command


def on_reply(d: Dialogue, reply: Reply, ctx: Context) -> Outcome:
    d.waiting_for = None
    if reply.command_type == "CancelRegistration":
        return cancel_outcome(reply)
    if reply.status == "accepted":
        registration_id = str(reply.ids.get("registration_id", ""))
        return Outcome(Dialogue(), [
            "Jullie aanmelding is ontvangen. We hebben jullie bestuurder of leidinggevende gevraagd de deelname goed "
            f"te keuren. De stand van de aanmelding: {ctx.status_link(registration_id)}\n"
            "Typ 'status' om die hier te zien."])
    forget = steps_to_ask_again(reply.errors)
    if not forget:
        return Outcome(d, ["De aanmelding is nog niet gelukt:\n" + error_lines(reply.errors)
                           + "\nAntwoord 'ja' om het opnieuw te proberen of 'stop' om te stoppen."])
    for key in forget:
        d.answers.pop(key, None)
    return ask_next(d, ctx, ["De aanmelding is nog niet gelukt:\n" + error_lines(reply.errors)
                             + "\nIk vraag alleen dat opnieuw."])


def error_lines(errors: list[ErrorItem]) -> str:
    lines = []
    for e in errors:
        label = FIELD_LABELS.get(anchor_for(e.field) or "", "")
        lines.append(f"- {label}: {e.message}" if label else f"- {e.message}")
    return "\n".join(lines)


def steps_to_ask_again(errors: list[ErrorItem]) -> list[str]:
    """The answers an error's field path points to: `members[1].email` -> that one; `members` -> by the rule."""
    keys: list[str] = []
    for e in errors:
        key = re.sub(r"\[(\d+)\]", r".\1", e.field)
        if e.code == "no_wijkambtenaar":
            found = [f"members.{i}.role" for i in range(3)]
        elif e.code == "single_domain":
            found = [f"members.{i}.domain" for i in range(3)]
        else:
            found = [s.key for s in STEPS if s.key == key or s.key.startswith(key + ".")] if key else []
            while not found and "." in key:  # deeper than a step, e.g. `case.domains.0`
                key = key.rsplit(".", 1)[0]
                found = [s.key for s in STEPS if s.key == key]
        keys += [k for k in found if k not in keys]
    return keys


# Status, programme, cancelling


def status_text(ctx: Context) -> str:
    r = ctx.registration
    if r is None:
        return "Vanuit dit gesprek is nog geen trio aangemeld. Typ 'aanmelden' om te beginnen."
    status = STATUS_TEXT.get(r.status, r.status)
    if r.status == "waitlisted" and r.waitlist_position:
        status += f", op plaats {r.waitlist_position}"
    return (f"De aanmelding van {r.municipality} voor {r.edition}: {status}.\n"
            f"Meer details: {ctx.status_link(r.registration_id)}")


def programme_text(ctx: Context) -> str:
    if not ctx.editions:
        return "Op dit moment is er geen editie waarvoor je je kunt aanmelden."
    parts = []
    for e in ctx.editions:
        lines = [f"{e.title} ({e.edition}) in {e.venue.name}, {e.venue.address}, {e.venue.city}:"]
        for s in sorted(e.sessions, key=lambda s: s.number):
            lines.append(f"Bijeenkomst {s.number}: {s.title}, {dutch_datetime(s.starts_at)} tot "
                         f"{dutch_datetime(s.ends_at).rsplit(', ', 1)[-1]}")
        lines.append(f"Aanmelden kan tot {dutch_datetime(e.registration_closes_at)}.")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def start_cancel(d: Dialogue, ctx: Context) -> Outcome:
    r = ctx.registration
    if r is None or r.status not in ACTIVE:
        return Outcome(d, ["Er is vanuit dit gesprek geen lopende aanmelding om te annuleren."])
    return Outcome(Dialogue(flow="annuleren"), [
        f"Weet je zeker dat je de aanmelding van {r.municipality} voor {r.edition} wilt annuleren? "
        "Een plaats die jullie hebben, gaat dan naar een ander trio. Antwoord ja of nee."])


def confirm_cancel(d: Dialogue, word: str, ctx: Context) -> Outcome:
    if word in NO:
        return Outcome(Dialogue(), ["Goed, de aanmelding blijft staan."])
    if word not in YES:
        return Outcome(d, ["Antwoord ja om de aanmelding te annuleren, of nee om haar te laten staan."])
    if ctx.registration is None:
        return Outcome(Dialogue(), ["Er is vanuit dit gesprek geen lopende aanmelding om te annuleren."])
    command = CancelRegistration(registration_id=ctx.registration.registration_id,
                                 reason="Geannuleerd via de chat.")
    return Outcome(d, ["Ik annuleer de aanmelding…"], command)


def cancel_outcome(reply: Reply) -> Outcome:
    if reply.status == "accepted" or {e.code for e in reply.errors} == {"already_cancelled"}:
        return Outcome(Dialogue(), ["De aanmelding is geannuleerd."])
    return Outcome(Dialogue(), ["Annuleren is niet gelukt:\n" + error_lines(reply.errors)])


def is_open(edition: EditionScheduled, closed: bool, now: datetime) -> bool:
    return not closed and now < edition.registration_closes_at
