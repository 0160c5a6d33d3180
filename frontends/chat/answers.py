"""Reading a participant's answer to one question of `aanmelden`: each parser returns the value to keep or raises
`Invalid` with the Dutch text saying what to type instead."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pydantic import EmailStr, TypeAdapter, ValidationError

from .conversation import NO, YES, Context, Dialogue

DOMAINS = ("fysiek", "sociaal", "veiligheid", "economie", "bestuur", "overig")
_email = TypeAdapter(EmailStr)


class Invalid(Exception):
    """An answer the step cannot use; the message (Dutch) says why and what to type instead."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.candidates = candidates or []


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


def municipality_answer(text: str, ctx: Context, d: Dialogue) -> str:
    word = text.strip()
    if word.isdigit() and d.candidates and 1 <= int(word) <= len(d.candidates):
        return d.candidates[int(word) - 1]
    found, candidates = ctx.municipalities.resolve(word)
    if found is not None:
        return found.code
    if candidates:
        lines = [f"{i}. {m.name} ({m.province})" for i, m in enumerate(candidates, start=1)]
        raise Invalid(
            "Welke gemeente bedoel je?\n" + "\n".join(lines) + "\nAntwoord met het nummer of de naam.",
            candidates=[m.code for m in candidates],
        )
    raise Invalid(f"De gemeente '{word}' kan ik niet vinden. Typ de naam van de gemeente, bijvoorbeeld Veenendaal.")
