"""Names and municipalities out of public text. Pure: no I/O.

How reporting keeps the names it must scrub (the choice issue 6 asks to document):

- Reporting learns participants' names (`registration.TrioRegistered`) and approvers' names
  (`registration.ApprovalRequested`) only to remove them from public pages. It never stores a name as text:
  from the moment an event arrives it keeps only keyed hashes (HMAC-SHA256 under a key derived from
  `WERKPLAATSEN_SECRET_KEY`) of the name's word sequences. Scrubbing hashes every run of one to
  `MAX_NAME_WORDS` words of a text the same way and removes the runs whose hash is known. Email addresses are
  not kept at all: every address is removed from public text whoever it belongs to.
- `registration.ParticipantDataErased` therefore leaves the hashes in place (a name typed in session notes
  must stay unpublishable after its owner asked to be forgotten) and removes everything else reporting holds
  about the trio's people: the case's free text, and the erased names wherever they occur in reporting's
  stored copy of the notes. The trio's municipality, policy domains and roles stay: without names they
  describe no one, and the public numbers need them. A hash cannot be turned back into the name without the
  key, and the key is not in the database.
- Consequence: rotating `WERKPLAATSEN_SECRET_KEY` makes the stored hashes useless for scrubbing. Rotate it
  only together with a rebuild of reporting's store from registration's events.

Which word sequences of a name are hashed ("Anna de Vries"):
- the whole name ("anna de vries") and the surname with its particles ("de vries"): removed wherever they
  occur, in any capitalisation;
- each single word that is not a particle ("anna", "vries"): removed in any capitalisation, unless the
  word is also an ordinary Dutch word (`COMMON_WORDS`: "Groen", "Bakker", "Wil", "Roos"...); such a word is
  removed only where it is written with a capital (a name), so "groen" in "groene schoolpleinen" stays.
- Initials (single letters) are not hashed on their own.

A municipality whose trio did not consent to being named is replaced by its description ("een middelgrote
gemeente in Gelderland") wherever its name is written with a capital; a preceding "gemeente" or "de
gemeente" goes with it. The case's neighbourhood of such a trio is replaced by "een wijk" the same way.

`Anonymiser.segments` says where it changed a text and why (segments.py: email, phone, name, municipality,
neighbourhood; attribution from the stored marks); `clean` is the text of those segments, so an organiser's
preview highlights exactly what differs in the published text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from .contacts import REMOVED, scrubbed
from .segments import Change, Kind, Segment, changed, joined

NameKind = Literal["always", "capitalised"]

MAX_NAME_WORDS = 6
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Words inside one name or municipality may be separated by spaces, hyphens or apostrophes, not by punctuation.
JOINER = re.compile(r"^[\s\-'’]+$")
MUNICIPALITY_PREFIX = re.compile(r"(?:\b[Dd]e\s+)?\b[Gg]emeente\s+$")
PARENTHESISED = re.compile(r"\s*\([^)]*\)\s*")

# Particles of Dutch (and some foreign) surnames: never a name on their own.
PARTICLES = frozenset(
    """
    de der den het van von vande vander ten ter te t s in op aan la le les du da di del della dos das el al bin
    ben zu zum uit onder over bij voor
""".split()
)

# Dutch words that are also first names or surnames. Such a name word is scrubbed only where it is written with
# a capital; lowercase it is the ordinary word. The list covers the occupations, colours, places in nature and
# short verbs that Dutch names are made of; extend it when a report loses an ordinary word.
COMMON_WORDS = frozenset(
    """
    aan al alle als anker baas bakker beek beer berg bergen bes best blauw blom bloem boer boom bos bosch bouwer
    brink broek brouwer bruin burg dag dam dekker dijk dik does dorp dries duin echt eik eiland eng gans geel
    graaf groen groot haan hart haven heer hof hoek hoog hoop horst hout huis iris jager jong kaas kamp kant
    kapper kerk keizer kind klein kok koning koopman kort koster kraai kruis kuiper laan land lang lange leeuw
    linde lot maan man mark markt meer meester merel mol molen molenaar mulder muur nacht nieuw noord oost oud
    pas peer plein post prins raaf regen rijk roos rood ruiter schaap schipper schot sluis smit smid snel stad
    steen ster stern stok storm straat tuin toon veen veld vink visser vogel vos vrij wal water weg west wever
    wil wind winter wit wolf zomer zon zuid zwart
    ben bas job kim max roel sterre fleur jasmijn lente
""".split()
)

# Single-word neighbourhood names that are ordinary words: replacing them would mangle the text, and without the
# municipality's name they identify nothing.
GENERIC_PLACES = frozenset(
    """
    centrum binnenstad buitengebied dorp noord oost zuid west stad wijk buurt kern haven station oud nieuw
""".split()
)

NEIGHBOURHOOD_DESCRIPTION = "een wijk"


def normalised_words(text: str) -> list[str]:
    """Words without accents, in lower case: how names and texts are compared."""
    return [fold(w) for w in WORD.findall(text)]


# Letters that Unicode does not decompose into a base letter and an accent, as people type them without it.
UNDECOMPOSED = str.maketrans(
    {
        "ı": "i",
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "œ": "oe",
        "Œ": "oe",
        "ĳ": "ij",
        "Ĳ": "ij",
    }
)


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.translate(UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class NameKey:
    """The key under which name word sequences are hashed; derived, so the secret itself hashes nothing."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> NameKey:
        return cls(hmac.new(secret.encode(), b"werkplaatsen:reporting:names", hashlib.sha256).digest())

    def digest(self, words: Iterable[str]) -> str:
        return hmac.new(self.key, " ".join(words).encode(), hashlib.sha256).hexdigest()


def name_digests(key: NameKey, name: str) -> dict[str, NameKind]:
    """The keyed hashes of a person's name that scrubbing looks for, each with how it must be written."""
    words = normalised_words(name)
    digests: dict[str, NameKind] = {}
    if len(words) > 1:
        digests[key.digest(words)] = "always"
    surname = _surname(words)
    if 1 < len(surname) < len(words):
        digests[key.digest(surname)] = "always"
    for word in words:
        if len(word) < 2 or word in PARTICLES:
            continue
        kind: NameKind = "capitalised" if word in COMMON_WORDS else "always"
        if digests.get(key.digest([word])) != "always":
            digests[key.digest([word])] = kind
    return digests


def _surname(words: list[str]) -> list[str]:
    """The surname with its particles: "anna de vries" -> "de vries"; "anna vries" -> "vries"."""
    if len(words) < 2:
        return []
    start = len(words) - 1
    while start > 1 and words[start - 1] in PARTICLES:
        start -= 1
    return words[start:]


@dataclass(frozen=True)
class Replacement:
    """A place or area name to replace (by a description) where it is written with a capital."""

    words: tuple[str, ...]
    description: str
    takes_prefix: bool = False  # "de gemeente X" -> the description, not "de gemeente een ... gemeente"
    kind: Kind = "neighbourhood"


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    folded: str
    capitalised: bool


@dataclass
class Anonymiser:
    """Removes contact details, known names and unconsented municipalities (and their neighbourhoods)."""

    key: NameKey
    names: dict[str, NameKind] = field(default_factory=dict)
    replacements: list[Replacement] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._digests: dict[tuple[str, ...], str] = {}  # the same words recur; hash each run once
        self._replacements = {r.words: r for r in self.replacements}
        longest = max((len(r.words) for r in self.replacements), default=1)
        self._longest = max(MAX_NAME_WORDS, longest)

    def clean(self, text: str) -> str:
        return joined(self.segments([Segment(text)]))

    def segments(self, pieces: list[Segment]) -> list[Segment]:
        """The text of the pieces as it will be published, in pieces as written and pieces changed (with why).
        Pieces changed before (a stored text's marks) stay marked."""
        pieces = scrubbed(pieces)
        return changed(pieces, self._changes(joined(pieces)))

    def _changes(self, text: str) -> list[Change]:
        words = [_Word(m.start(), m.end(), fold(m.group()), m.group()[0].isupper()) for m in WORD.finditer(text)]
        changes: list[Change] = []
        position = 0
        i = 0
        while i < len(words):
            match = self._match(text, words, i)
            if match is None:
                i += 1
                continue
            length, replacement = match
            start = words[i].start
            if isinstance(replacement, Replacement) and replacement.takes_prefix:
                prefix = MUNICIPALITY_PREFIX.search(text, position, start)
                if prefix is not None:
                    start = prefix.start()
            position = words[i + length - 1].end
            if isinstance(replacement, Replacement):
                changes.append(Change(start, position, _description(replacement, text, start), replacement.kind))
            else:
                changes.append(Change(start, position, REMOVED, "name"))
            i += length
        return changes

    def _match(self, text: str, words: list[_Word], i: int) -> tuple[int, Replacement | str] | None:
        """The longest run of words from i that is a known name or place, if any."""
        for length in range(min(self._longest, len(words) - i), 0, -1):
            run = words[i : i + length]
            if length > 1 and not all(JOINER.match(text[a.end : b.start]) for a, b in pairwise(run)):
                continue
            folded = tuple(w.folded for w in run)
            replacement = self._replacements.get(folded)
            if replacement is not None and run[0].capitalised:
                return length, replacement
            if length <= MAX_NAME_WORDS:
                if folded not in self._digests:
                    self._digests[folded] = self.key.digest(folded)
                kind = self.names.get(self._digests[folded])
                if kind == "always" or (kind == "capitalised" and run[0].capitalised):
                    return length, REMOVED
        return None


SENTENCE_END = re.compile(r"(?:^|[.!?]\s+)$")


def _description(replacement: Replacement, text: str, start: int) -> str:
    """The description, with a capital where it begins a sentence."""
    if SENTENCE_END.search(text[:start]):
        return replacement.description[:1].upper() + replacement.description[1:]
    return replacement.description


def municipality_replacement(name: str, description: str) -> list[Replacement]:
    """`Bergen (NH)` is also written `Bergen`; both give way to the description."""
    forms = {name, PARENTHESISED.sub(" ", name).strip()}
    return [
        Replacement(tuple(normalised_words(form)), description, takes_prefix=True, kind="municipality")
        for form in forms
        if normalised_words(form)
    ]


def neighbourhood_replacement(name: str) -> list[Replacement]:
    words = tuple(normalised_words(name))
    if not words or (len(words) == 1 and (len(words[0]) < 3 or words[0] in COMMON_WORDS | GENERIC_PLACES)):
        return []
    return [Replacement(words, NEIGHBOURHOOD_DESCRIPTION)]
