"""Registering a trio in the chat: asking the steps, the summary and its corrections, RegisterTrio, and the
registration service's answer.

Correcting a field (a refusal from the registration service, or the participant's "nee" at the summary) only
forgets that field's answer: the dialogue asks for just that again and shows the summary once more.
"""

from __future__ import annotations

import re

from shared.contract import ErrorItem, Reply
from shared.contract.common import Channel
from shared.contract.registration import RegisterTrio
from shared.refusals import public_errors

from .answers import Invalid
from .binding import CHECK_MAIL
from .conversation import ACTIVE, NO, NO_EDITION, YES, Context, Dialogue, Outcome, error_lines
from .steps import PARTS, STEPS, chosen_edition, municipality_name, next_step


def start_registration(ctx: Context) -> Outcome:
    if any(r.status in ACTIVE for r in ctx.unbound):
        return Outcome(Dialogue(), ["Vanuit dit gesprek is al een trio aangemeld. " + CHECK_MAIL])
    if ctx.registration is not None and ctx.registration.status in ACTIVE:
        return Outcome(
            Dialogue(),
            [
                "Vanuit dit gesprek is al een trio aangemeld. Typ 'status' voor de stand, of "
                "'annuleren' om die aanmelding in te trekken."
            ],
        )
    if not ctx.editions:
        return Outcome(Dialogue(), [NO_EDITION])
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
    lines = [
        "Dit is jullie aanmelding:",
        f"Editie: {edition.title if edition else ''} ({a.get('edition')})",
        f"Gemeente: {municipality_name(ctx, a)}",
    ]
    for i in range(3):
        lines.append(
            f"Lid {i + 1}: {a[f'members.{i}.name']} <{a[f'members.{i}.email']}>, "
            f"{a[f'members.{i}.role']}, {a[f'members.{i}.domain']}, taal {a[f'members.{i}.language']}"
        )
    lines += [
        f"Casus: {a['case.title']} ({a['case.neighbourhood']}), domeinen {', '.join(a['case.domains'])}",
        f"Beschrijving: {a['case.summary']}",
        f"Goedkeurder: {a['approver.name']} <{a['approver.email']}>",
    ]
    if "invoice.address" in a:
        lines.append(f"Factuur: {a['invoice.address']}, referentie {a['invoice.reference']}")
    lines += [
        f"Toestemming persoonsgegevens: {'ja' if a['consent.privacy'] else 'nee'}; naam gemeente in "
        f"verslagen: {'ja' if a['consent.publish_municipality_name'] else 'nee'}",
        "Klopt dit? Antwoord 'ja' om te versturen, of noem wat je wilt wijzigen (bijvoorbeeld 'lid 2' of "
        "'goedkeurder').",
    ]
    return "\n".join(lines)


def register_command(d: Dialogue, ctx: Context) -> RegisterTrio:
    a = d.answers
    invoice = (
        {"address": a["invoice.address"], "reference": a["invoice.reference"]}
        if "invoice.address" in a and "invoice.reference" in a
        else None
    )
    return RegisterTrio.model_validate(
        {
            "edition": a["edition"],
            "municipality": a["municipality"],
            "members": [
                {
                    "name": a[f"members.{i}.name"],
                    "email": a[f"members.{i}.email"],
                    "role": a[f"members.{i}.role"],
                    "domain": a[f"members.{i}.domain"],
                    "language": a[f"members.{i}.language"],
                }
                for i in range(3)
            ],
            "case": {
                "title": a["case.title"],
                "neighbourhood": a["case.neighbourhood"],
                "summary": a["case.summary"],
                "domains": a["case.domains"],
            },
            "approver": {"name": a["approver.name"], "email": a["approver.email"]},
            "consent": {
                "privacy": a["consent.privacy"],
                "publish_municipality_name": a["consent.publish_municipality_name"],
            },
            "invoice": invoice,
            "channel": Channel.chat,
            "chat_id": ctx.room_id,
        }
    )


def registration_outcome(d: Dialogue, reply: Reply, ctx: Context) -> Outcome:
    """RegisterTrio's answer: where the code that binds the room is, or the refused answers asked again. No status
    link: the room sees the trio's status only once a member bound it (binding.py). A reason that says a member is
    registered already is not shown (shared/refusals.py): registration mails that member instead."""
    if reply.status == "accepted":
        registration_id = str(reply.ids.get("registration_id", ""))
        return Outcome(
            Dialogue(),
            [
                "Jullie aanmelding is ontvangen (kenmerk "
                f"{registration_id}). We hebben jullie bestuurder of leidinggevende gevraagd de deelname goed te "
                "keuren.\n" + CHECK_MAIL
            ],
        )
    errors = public_errors(reply.errors)
    forget = steps_to_ask_again(errors)
    if not forget:
        return Outcome(
            d,
            [
                "De aanmelding is nog niet gelukt:\n"
                + error_lines(errors)
                + "\nAntwoord 'ja' om het opnieuw te proberen of 'stop' om te stoppen."
            ],
        )
    for key in forget:
        d.answers.pop(key, None)
    return ask_next(
        d, ctx, ["De aanmelding is nog niet gelukt:\n" + error_lines(errors) + "\nIk vraag alleen dat opnieuw."]
    )


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
