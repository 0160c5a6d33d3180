"""The steps of `aanmelden`, in order: each a question and a parser of its answer, some only when they apply (the
invoice details only when a fee is due). The next question is always the first applicable step not yet answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.contract.scheduling import EditionScheduled
from shared.formatting import dutch_datetime, euro

from .answers import (
    DOMAINS,
    choice_answer,
    domains_answer,
    edition_answer,
    email_answer,
    municipality_answer,
    numbered,
    text_answer,
    yes_no,
)
from .conversation import Context, Dialogue

ORDINALS = ("eerste", "tweede", "derde")
ROLES = {"1": "wijkambtenaar", "2": "sectorambtenaar"}


@dataclass(frozen=True)
class Step:
    key: str
    question: Callable[[Context, dict[str, Any]], str]
    parse: Callable[[str, Context, Dialogue], Any]
    applies: Callable[[Context, dict[str, Any]], bool] = lambda _ctx, _answers: True


def edition_question(ctx: Context, _answers: dict[str, Any]) -> str:
    lines = [
        f"{i}. {e.title} ({e.edition}), eerste bijeenkomst {dutch_datetime(e.sessions[0].starts_at, False)}"
        for i, e in enumerate(ctx.editions, start=1)
    ]
    return "Voor welke editie melden jullie je aan?\n" + "\n".join(lines)


def municipality_name(ctx: Context, answers: dict[str, Any]) -> str:
    found = ctx.municipalities.get(answers.get("municipality", ""))
    return found.name if found else "jullie gemeente"


def chosen_edition(ctx: Context, answers: dict[str, Any]) -> EditionScheduled | None:
    return next((e for e in ctx.editions if e.edition == answers.get("edition")), None)


def fee_text(ctx: Context, answers: dict[str, Any]) -> str:
    """The chosen edition's fee per trio, or "de" (as in "de eigen bijdrage") before an edition is known."""
    edition = chosen_edition(ctx, answers)
    return euro(edition.fee.amount_cents) if edition else "de"


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
        Step(
            f"members.{i}.role",
            lambda _c, a: f"Is {name(a)} 1. wijkambtenaar of 2. sectorambtenaar (collega van een beleidsafdeling)?",
            choice_answer({**ROLES, **{v: v for v in ROLES.values()}}, "rol"),
        ),
        Step(
            f"members.{i}.domain",
            lambda _c, a: (
                f"Welk beleidsdomein vertegenwoordigt {name(a)}? "
                + ", ".join(f"{n}. {d}" for n, d in enumerate(DOMAINS, start=1))
            ),
            choice_answer(numbered(DOMAINS), "beleidsdomein"),
        ),
        Step(
            f"members.{i}.language",
            lambda _c, a: f"In welke taal krijgt {name(a)} de e-mails: nl (Nederlands) of en (English)?",
            choice_answer({"nl": "nl", "nederlands": "nl", "en": "en", "engels": "en", "english": "en"}, "taal"),
        ),
    ]


STEPS: list[Step] = [
    Step("edition", edition_question, edition_answer),
    Step(
        "municipality",
        lambda _c, _a: "Voor welke gemeente melden jullie je aan? Typ de naam van de gemeente.",
        municipality_answer,
    ),
    *member_steps(0),
    *member_steps(1),
    *member_steps(2),
    Step(
        "case.title",
        lambda _c, _a: "Nu jullie casus: een strategische opgave met een wijkcomponent. Wat is de titel van de casus?",
        text_answer(200),
    ),
    Step("case.neighbourhood", lambda _c, _a: "In welke wijk of buurt speelt de casus?", text_answer(200)),
    Step("case.summary", lambda _c, _a: "Beschrijf de casus in een paar zinnen.", text_answer(5000)),
    Step(
        "case.domains",
        lambda _c, _a: (
            "Welke beleidsdomeinen verbindt de casus? Noem er minstens twee, "
            "gescheiden door komma's: " + ", ".join(DOMAINS) + "."
        ),
        domains_answer,
    ),
    Step(
        "approver.name",
        lambda _c, _a: "Wie keurt jullie deelname goed (bestuurder of leidinggevende)? Wat is de naam?",
        text_answer(200),
    ),
    Step(
        "approver.email",
        lambda _c, a: f"Wat is het e-mailadres van {a.get('approver.name', 'de goedkeurder')}?",
        email_answer,
    ),
    Step(
        "invoice.address",
        lambda c, a: (
            f"Voor {municipality_name(c, a)} geldt een eigen bijdrage van {fee_text(c, a)} per trio. "
            "Wat is het factuuradres? Zet postcode en plaats op de laatste regel."
        ),
        text_answer(1000),
        fee_due,
    ),
    Step(
        "invoice.reference",
        lambda _c, _a: "Wat is het inkoop- of ordernummer van de gemeente?",
        text_answer(200),
        fee_due,
    ),
    Step(
        "consent.privacy",
        lambda _c, _a: (
            "Geven jullie toestemming voor het verwerken van jullie "
            "persoonsgegevens voor de werkplaatsen? Antwoord ja of nee."
        ),
        yes_no,
    ),
    Step(
        "consent.publish_municipality_name",
        lambda c, a: (
            f"Mag de naam {municipality_name(c, a)} genoemd worden in de openbare verslagen? Antwoord ja of nee."
        ),
        yes_no,
    ),
]
BY_KEY = {s.key: s for s in STEPS}
# What the participant can name at the summary to change it.
PARTS = {
    "editie": ["edition"],
    "gemeente": ["municipality"],
    **{f"lid {i + 1}": [s.key for s in member_steps(i)] for i in range(3)},
    "casus": ["case.title", "case.neighbourhood", "case.summary", "case.domains"],
    "goedkeurder": ["approver.name", "approver.email"],
    "factuur": ["invoice.address", "invoice.reference"],
    "toestemming": ["consent.privacy", "consent.publish_municipality_name"],
}


def next_step(ctx: Context, answers: dict[str, Any]) -> Step | None:
    return next((s for s in STEPS if s.key not in answers and s.applies(ctx, answers)), None)
