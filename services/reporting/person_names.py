"""Names of people nobody registered: a name after a title ("wethouder Karin Hoekstra", "mw. De Vries"), a
frequent first name with what follows it ("Karin Hoekstra", "Karin"), and a frequent surname that is no
ordinary word ("Hoekstra"). The lists are in gazetteer.py. Pure: no I/O.

The rules work on the words anonymise.py split the text into (`Word`), so every rule sees the same words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .gazetteer import FIRST_NAMES, INSTITUTIONS, NOT_NAMES, PLACES, SAINTS, SURNAMES, TITLES

# Words inside one name are separated by a space, a hyphen or an apostrophe; after an initial also by its dot.
NAME_GAP = re.compile(r"^[ \t\u00a0\-'’]{1,3}$")
INITIAL_GAP = re.compile(r"^\.[ \t\u00a0\-]{0,2}$")
TITLE_GAP = re.compile(r"^\.?[ \t\u00a0]{1,3}$")

# Particles of Dutch (and some foreign) surnames: never a name on their own.
PARTICLES = frozenset(
    """
    de der den het van von vande vander ten ter te t s in op aan la le les du da di del della dos das el al bin
    ben zu zum uit onder over bij voor
""".split()
)
# Particles that stand inside a name written in running text ("Karin van den Berg"); the others ("in", "op",
# "voor") are more often the sentence going on, so a name found by rule does not reach over them.
NO_NAME_PARTS = NOT_NAMES | TITLES | INSTITUTIONS  # capitalised, yet no part of a name
LISTED = FIRST_NAMES | SURNAMES
NAME_PARTICLES = frozenset("de der den van von ten ter te t s la le du da di del el al bin ben".split())


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    folded: str
    capitalised: bool
    initial: bool  # a single letter followed by a dot: "J." of "J. de Vries"


@dataclass(frozen=True)
class Found:
    first: int  # index of the first word of the name
    last: int  # index of its last word
    rule: str  # "title_name", "first_name", "surname"


def found_names(text: str, words: Sequence[Word], common: frozenset[str]) -> dict[int, Found]:
    """The names found by rule, by the index of their first word; `common` are the ordinary Dutch words that are
    also names, taken for a name only inside a longer name or after a title."""
    found: dict[int, Found] = {}
    i = 0
    while i < len(words):
        word = words[i]
        hit: Found | None = None
        if word.folded in TITLES and i + 1 < len(words) and TITLE_GAP.match(text[word.end : words[i + 1].start]):
            last = _name_end(text, words, i + 1, after_title=True, common=common)
            if last is not None:
                hit = Found(i + 1, last, "title_name")
        elif word.folded in FIRST_NAMES and (word.capitalised or (len(word.folded) >= 4 and word.folded not in common)):
            last = _name_end(text, words, i, after_title=False)
            if last is None and word.folded not in common:
                last = i
            if last is not None and (last > i or word.folded not in common):
                hit = Found(i, last, "first_name")
        elif word.capitalised and word.folded in SURNAMES and word.folded not in common and len(word.folded) >= 4:
            first = _particles_before(text, words, i)
            hit = Found(first, _name_end(text, words, i, after_title=False) or i, "surname")
        if hit is not None and hit.rule != "title_name" and not _a_person(text, words, hit):
            hit = None
        if hit is not None:
            found.setdefault(hit.first, hit)
            i = hit.last + 1
        else:
            i += 1
    return found


def _name_end(
    text: str, words: Sequence[Word], i: int, *, after_title: bool, common: frozenset[str] = frozenset()
) -> int | None:
    """The index of the last word of the name that starts at words[i] (after a title) or goes on after words[i]
    (a first name): initials, particles and capitalised words, ending in a capitalised word; after a title also
    listed names typed in lower case ("wethouder karin hoekstra") that are no ordinary word. None: no name."""
    last: int | None = None
    j = i if after_title else i + 1
    if not after_title and (j >= len(words) or not _joined(text, words[i], words[j])):
        return None
    if after_title and _of_a_place(words, i):
        return None
    while j < len(words):
        word = words[j]
        if j > i and not _joined(text, words[j - 1], word):
            break
        acronym = word.end - word.start > 1 and text[word.start : word.end].isupper()  # "GGD", "CBS"
        typed_low = after_title and len(word.folded) >= 4 and word.folded in LISTED and word.folded not in common
        if word.initial or typed_low or (word.capitalised and not acronym and word.folded not in NO_NAME_PARTS):
            if not word.initial or after_title:
                last = j
        elif word.folded not in NAME_PARTICLES:
            break
        j += 1
    return last


def _of_a_place(words: Sequence[Word], i: int) -> bool:
    """ "burgemeester van Ede", "wethouder van Barneveld": after a title a lowercase "van" and one capitalised word
    that is no frequent surname say where, not who ("wethouder van den Berg", "wethouder van Dijk" say who)."""
    if words[i].folded != "van" or words[i].capitalised or i + 1 >= len(words):
        return False
    place = words[i + 1]
    return place.capitalised and place.folded not in NAME_PARTICLES and place.folded not in SURNAMES


def _joined(text: str, a: Word, b: Word) -> bool:
    gap = text[a.end : b.start]
    return bool(NAME_GAP.match(gap) or (a.initial and INITIAL_GAP.match(gap)))


def _particles_before(text: str, words: Sequence[Word], i: int) -> int:
    """The surname's particles belong to it ("de Vries", "van den Berg"); a lone lowercase "van" is more often
    the sentence's ("het plein van Jansen") and stays."""
    start = i
    while start > 0 and words[start - 1].folded in NAME_PARTICLES and _gap(text, words[start - 1], words[start]):
        start -= 1
    if start == i - 1 and words[start].folded in ("van", "von") and not words[start].capitalised:
        return i
    return start


def _gap(text: str, a: Word, b: Word) -> bool:
    return NAME_GAP.match(text[a.end : b.start]) is not None


def _a_person(text: str, words: Sequence[Word], hit: Found) -> bool:
    """Whether a name found by a list is a person's and not part of a compound ("Maria-onderwijs"), a saint's
    name ("Sint Jan"), a place's ("Hendrik-Ido-Ambacht") or an institution's ("Emma Kinderziekenhuis")."""
    if tuple(w.folded for w in words[hit.first : hit.last + 1]) in PLACES:
        return False
    if hit.first > 0 and words[hit.first - 1].folded in SAINTS and _gap(text, words[hit.first - 1], words[hit.first]):
        return False
    after = hit.last + 1
    if after < len(words) and _gap(text, words[hit.last], words[after]):
        following = words[after]
        hyphen = "-" in text[words[hit.last].end : following.start]
        if following.folded in INSTITUTIONS or (hyphen and not following.capitalised):
            return False
    return True
