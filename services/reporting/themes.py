"""Rode lijnen: lessons that recur across the sessions of a round, found by word overlap. Pure: no I/O.

The method is deliberately simple, so a reader can check every theme against the lessons it cites (the round's
report explains it in the words of `METHOD`):

1. Every lesson of every session (already anonymised) is split into words, in lower case and without accents.
2. Stop words are dropped: Dutch function words and the words every lesson of this programme uses
   (`STOP_WORDS`), and words shorter than `MIN_WORD_LENGTH` letters.
3. Each remaining word is reduced to a stem by cutting a plural or inflection ending ("-en", "-s", "-e"),
   so "bewoners" and "bewoner", "prioriteiten" and "prioriteit" count as one word.
4. The terms of a lesson are its stems and its pairs of consecutive stems within one clause (so "stip op de
   horizon" gives the pair "stip horizon"). What anonymisation put in ("[verwijderd]", "een middelgrote
   gemeente in Gelderland", "een wijk") is not part of any term.
5. A term is a rode lijn when lessons of at least `MIN_SESSIONS` different sessions contain it.
6. Themes are ordered by the number of sessions, then pairs before single words (a pair says more), then
   the number of lessons; a term whose lessons are all cited already by a theme sharing a stem with it adds
   nothing and is left out. At most `MAX_THEMES` are shown.
7. A theme is named after the words as the lessons wrote them (the most frequent form), and lists every
   lesson that supports it.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from .anonymise import fold

MIN_SESSIONS = 2
MIN_WORD_LENGTH = 4
MAX_THEMES = 6

STOP_WORDS = frozenset(
    """
    aan aangezien achter af al alle alleen allemaal als alsof altijd andere anders bij binnen bijvoorbeeld
    daar daardoor daarbij daarin daarmee daarna daarom daarop dan dat de deze die dit doen door dus echter
    een eens eerst elk elke en er erg even ga gaan gaat geen geeft gewoon goed graag had heb hebben heeft
    hem hen het hier hierbij hij hoe hoeft hun iedereen iemand iets ik in is ja je jij jullie kan kon komen
    komt kun kunnen kunt laat laten leggen maakt maar maken me meer meest men met mij mijn moet moeten na
    naar naast net niet niets nog nooit nu of om omdat onder ons onze ook op over samen staat steeds
    tegen tot tussen u uit van vanuit veel voor vooral vaak waar waarbij waardoor waarin wanneer want was
    wat we wel werd wie wij wil willen word worden wordt zal ze zelf zich zij zijn zo zonder zoals zou zouden
    zullen eigen elkaar heel hele juist minder niemand sommige soms via welke zeker
    wijk wijken gemeente gemeenten gemeentelijk werken werkt werkwijze wijkgericht wijkgerichte trio trios
    les lessen deelnemers bijeenkomst werkplaats werkplaatsen verwijderd
""".split()
)

METHOD = (
    "We zoeken de rode lijnen met een eenvoudige, controleerbare methode. Elke les wordt in woorden gesplitst; "
    "lidwoorden, voegwoorden en woorden die in bijna elke les van deze werkplaatsen staan (zoals ‘wijk’, "
    "‘gemeente’ en ‘werken’) tellen niet mee, evenals woorden van minder dan vier letters. Meervouds- en "
    "buigingsuitgangen vallen weg, zodat ‘bewoners’ en ‘bewoner’ als hetzelfde woord tellen. Een woord of een "
    "paar opeenvolgende woorden is een rode lijn als het terugkomt in lessen van minstens twee verschillende "
    "bijeenkomsten. Bij elke rode lijn staan alle lessen waarin het terugkomt, zodat je zelf kunt nagaan of de "
    "lijn klopt."
)

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Clause boundaries, and the text anonymisation put in: terms never span them.
_BREAKS = re.compile(
    r"\[[^\]]*\]|[.;:!?()\[\]\"“”]|\been (?:kleine|middelgrote|grote) gemeente in [^\W\d_]+|\been wijk\b"
)


@dataclass(frozen=True)
class Lesson:
    session_number: int
    text: str


@dataclass(frozen=True)
class Theme:
    label: str
    sessions: list[int]
    lessons: list[Lesson]


@dataclass(frozen=True)
class _Token:
    stem: str
    start: int
    end: int


def stem(word: str) -> str:
    for ending in ("en", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= MIN_WORD_LENGTH:
            return word[: -len(ending)]
    return word


def _clauses(text: str) -> list[list[_Token]]:
    clauses: list[list[_Token]] = []
    position = 0
    for boundary in [*_BREAKS.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        clause = []
        for match in _WORD.finditer(text, position, end):
            word = fold(match.group())
            if len(word) >= MIN_WORD_LENGTH and word not in STOP_WORDS:
                clause.append(_Token(stem(word), match.start(), match.end()))
        clauses.append(clause)
        position = boundary.end() if boundary else len(text)
    return clauses


def _terms(text: str) -> dict[tuple[str, ...], str]:
    """The lesson's terms, each with the words as this lesson wrote them."""
    terms: dict[tuple[str, ...], str] = {}
    for tokens in _clauses(text):
        for token in tokens:
            terms.setdefault((token.stem,), text[token.start : token.end].lower())
        for first, second in itertools.pairwise(tokens):
            if first.stem != second.stem:
                terms.setdefault((first.stem, second.stem), " ".join(text[first.start : second.end].lower().split()))
    return terms


def rode_lijnen(lessons: list[Lesson]) -> list[Theme]:
    supporters: dict[tuple[str, ...], list[int]] = defaultdict(list)
    forms: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for index, lesson in enumerate(lessons):
        for term, form in _terms(lesson.text).items():
            supporters[term].append(index)
            forms[term][form] += 1
    candidates = []
    for term, indexes in supporters.items():
        sessions = sorted({lessons[i].session_number for i in indexes})
        if len(sessions) >= MIN_SESSIONS:
            candidates.append((term, sessions, indexes))
    candidates.sort(key=lambda c: (-len(c[1]), -len(c[0]), -len(c[2]), c[0]))
    chosen: list[tuple[tuple[str, ...], set[int]]] = []
    themes = []
    for term, sessions, indexes in candidates:
        if any(set(term) & set(other) and set(indexes) <= cited for other, cited in chosen):
            continue
        chosen.append((term, set(indexes)))
        label = sorted(forms[term].items(), key=lambda f: (-f[1], f[0]))[0][0]
        themes.append(Theme(label=label, sessions=sessions, lessons=[lessons[i] for i in indexes]))
        if len(themes) == MAX_THEMES:
            break
    return themes
