"""The organisers' false positives per edition: words and phrases the anonymiser removed that are no name there
(anonymise.py). Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

import re
from typing import Any, Protocol

from shared.contract.reporting import MarkFalsePositive
from shared.messaging.messages import refuse

from ..anonymise import MAX_NAME_WORDS, false_positive


class FalsePositives(Protocol):
    async def add(self, edition: str, phrase: str, added_by: str | None) -> None: ...
    async def remove(self, edition: str, phrase: str) -> None: ...


# Contact details and numbers are no ordinary word that a rule took for a name: they always go.
NOT_A_WORD = re.compile(r"[\d@]")


async def mark_false_positive(cmd: MarkFalsePositive, *, false_positives: FalsePositives) -> dict[str, Any]:
    if cmd.actor is not None and cmd.actor.role == "viewer":
        raise refuse("actor", "not_allowed", "Alleen organisatoren en begeleiders beheren de lijst van dit verslag.")
    phrase = false_positive(cmd.phrase)
    if not phrase or NOT_A_WORD.search(cmd.phrase):
        raise refuse("phrase", "not_a_word", "Alleen woorden kunnen als ten onrechte weggehaald worden gemarkeerd.")
    if len(phrase.split()) > MAX_NAME_WORDS:
        raise refuse("phrase", "too_long", f"Markeer hoogstens {MAX_NAME_WORDS} woorden tegelijk.")
    if cmd.false_positive:
        await false_positives.add(cmd.edition, phrase, cmd.actor.account_id if cmd.actor else None)
    else:
        await false_positives.remove(cmd.edition, phrase)
    return {"edition": cmd.edition, "phrase": phrase, "false_positive": cmd.false_positive}
