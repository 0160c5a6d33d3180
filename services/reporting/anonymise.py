"""Names and municipalities out of public text. Pure: no I/O.

How reporting keeps the names it must scrub (the choice issue 6 asks to document):

- Reporting learns participants' names (`registration.TrioRegistered`) and approvers' names
  (`registration.ApprovalRequested`) only to remove them from public pages. It never stores a name as text:
  from the moment an event arrives it keeps only keyed hashes (HMAC-SHA256) of the name's word sequences, in
  each spelling people type it in ("Björn", "Bjorn", "Bjoern"; "Dijk", "Dyk"). Scrubbing hashes every run of
  one to `MAX_NAME_WORDS` words of a text the same way and removes the runs whose hash is known. Email
  addresses are not kept at all: every address is removed from public text whoever it belongs to.
- The key is reporting's own: random, made once and kept in its store (name_keys.py), so rotating
  `WERKPLAATSEN_SECRET_KEY` changes nothing. Hashes made before reporting had its own key were keyed from
  `WERKPLAATSEN_SECRET_KEY` (`NameKey.from_secret`); that derived key was stored beside the own one the first
  time the service started with it, and stays a fallback (`NameKey.previous`) for those rows. Trade-off: the
  key is in the database, so a copy of the database lets someone test guessed names against the hashes; it
  still holds no name, and the alternative (a key outside the store) loses every hash when that key rotates.
- `registration.ParticipantDataErased` removes the erased names from reporting's stored notes and then the
  hashes too: with the key in the same store they are pseudonymous data, which an erasure must reach (issue
  18). A name typed in notes after its owner's erasure is then caught only by the rules for people nobody
  registered (person_names.py): a title or a frequent first name before it, or a frequent surname. Erasure
  normally comes with retention, after the edition's last notes.

Whose names a page scrubs (views.anonymiser_for): every hash of the people of the page's own edition
(`names`), and of everyone else only the hashes that are removed in any capitalisation (`other_names`: whole
names, surnames, single words that are no ordinary word). So "Bakker" of one edition's participant Wil Bakker
does not disappear from every other edition's reports for ever.

Which word sequences of a name are hashed ("Anna de Vries"):
- the whole name ("anna de vries") and the surname with its particles ("de vries"): removed wherever they
  occur, in any capitalisation (a surname made of particles and ordinary words, "de wit", only where a word
  of it is written with a capital);
- each single word that is not a particle ("anna", "vries"): removed in any capitalisation, unless the
  word is also an ordinary Dutch word (`COMMON_WORDS`: "Groen", "Bakker", "Wil", "Roos"...); such a word is
  removed only where it is written with a capital (a name), so "groen" in "groene schoolpleinen" stays.
- Initials (single letters) are not hashed on their own.

People nobody registered are found by rule (person_names.py, lists in gazetteer.py): a name after a title
("wethouder Karin Hoekstra"), a frequent first name and what follows it, a frequent surname.

A municipality whose trio did not consent to being named is replaced by its description ("een middelgrote
gemeente in Gelderland") wherever its name is written with a capital, in lower case too unless its name is an
ordinary word ("Houten", "houten banken"), and after "gemeente" always; a preceding "gemeente" or "de gemeente"
goes with it. The case's neighbourhood of such a trio is replaced by "een wijk" the same way.

False positives: organisers keep a list per edition of words and phrases that are no name there (`allowed`,
handlers/false_positives.py, kept in adapters/anonymiser_store.py); a change whose replaced words are on it is not
made. Contact details and numbers are never
on it: they are no ordinary words.

`Anonymiser.segments` says where it changed a text, by which rule (`RULES`) and what was there; `clean` is the
text of those segments, so an organiser's preview highlights exactly what differs in the published text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice, pairwise, product
from typing import Final, Literal

from .contacts import REMOVED, scrubbed
from .person_names import PARTICLES, Word, found_names
from .segments import Change, Kind, Segment, changed, joined

NameKind = Literal["always", "capitalised"]

# Every rule that changes a text, in the order they run, and how the organiser's preview explains it. Contact
# details and numbers: contacts.py; names by rule: person_names.py; registered names and places: below.
RULES: Final = {
    "invisible": "onzichtbaar teken weggehaald",
    "email": "e-mailadres",
    "email_spelled": "uitgeschreven e-mailadres ('at', 'dot')",
    "iban": "IBAN (rekeningnummer)",
    "phone": "telefoonnummer",
    "bsn": "BSN (klopt met de elfproef)",
    "bsn_named": "nummer na 'BSN'",
    "attribution": "naam bij een citaat",
    "registered_name": "naam van een deelnemer of goedkeurder van deze editie",
    "other_edition_name": "naam van een deelnemer of goedkeurder van een andere editie",
    "title_name": "naam na een aanspreekvorm of functie (wethouder, mevrouw, dhr.)",
    "first_name": "naam met een veelvoorkomende voornaam",
    "surname": "veelvoorkomende achternaam",
    "municipality": "gemeente die niet genoemd mag worden",
    "municipality_elsewhere": "gemeente die in een andere editie niet genoemd mocht worden",
    "neighbourhood": "wijk van een gemeente die niet genoemd mag worden",
}

MAX_NAME_WORDS = 6
MAX_SPELLINGS = 8  # per name: enough for an umlaut and an "ij", bounded for a name full of both
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Words inside one name or municipality may be separated by spaces, hyphens or apostrophes, not by punctuation.
JOINER = re.compile(r"^[\s\-'’]+$")
MUNICIPALITY_PREFIX = re.compile(r"(?:\b[Dd]e\s+)?\b[Gg]emeente\s+$")
PARENTHESISED = re.compile(r"\s*\([^)]*\)\s*")

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
    ton rob bob els amber lies mees frank dick joke floor noor rosa vera
    leeuwen linden heuvel vonk boon haas ridder jonker maas rijn vliet jonge pol ven kramer frans
    houten buren hoorn loon weert putten duiven son
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
# The other way people type an umlaut: "Björn" as "Bjoern", "Öztürk" as "Oeztuerk".
UMLAUTS_SPELLED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.translate(UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def spellings(word: str) -> list[str]:
    """The ways a name word is typed: without accents, with an umlaut spelled out, with "ij" as "y"."""
    out = [fold(word)]
    for variant in (fold(word.translate(UMLAUTS_SPELLED)),):
        if variant not in out:
            out.append(variant)
    out += [s.replace("ij", "y") for s in out if "ij" in s]
    return out


@dataclass(frozen=True)
class NameKey:
    """The key under which name word sequences are hashed, and earlier keys whose hashes are still stored."""

    key: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def generate(cls) -> NameKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_secret(cls, secret: str) -> NameKey:
        """How the key was made before reporting had its own: derived from WERKPLAATSEN_SECRET_KEY."""
        return cls(hmac.new(secret.encode(), b"werkplaatsen:reporting:names", hashlib.sha256).digest())

    def digest(self, words: Iterable[str]) -> str:
        return hmac.new(self.key, " ".join(words).encode(), hashlib.sha256).hexdigest()

    def digests(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """The hash under the key and under each earlier one: a stored hash is any of them."""
        text = " ".join(words).encode()
        return tuple(hmac.new(k, text, hashlib.sha256).hexdigest() for k in (self.key, *self.previous))


def name_digests(key: NameKey, name: str) -> dict[str, NameKind]:
    """The keyed hashes of a person's name that scrubbing looks for, each with how it must be written."""
    raw = WORD.findall(name)
    words = [fold(w) for w in raw]
    variants = [spellings(w) for w in raw]
    digests: dict[str, NameKind] = {}

    def add(sequences: Iterable[tuple[str, ...]], kind: NameKind) -> None:
        for sequence in islice(sequences, MAX_SPELLINGS):
            digest = key.digest(sequence)
            if digests.get(digest) != "always":
                digests[digest] = kind

    if len(words) > 1:
        add(product(*variants), "always")
    surname = _surname(words)
    if 1 < len(surname) < len(words):
        # "de wit", "van dijk", "de boer": a surname of particles and ordinary words is also the ordinary words
        # ("de boer op"); it is removed where it is written with a capital, like those words.
        ordinary = all(w in PARTICLES or w in COMMON_WORDS for w in surname)
        add(product(*variants[len(words) - len(surname) :]), "capitalised" if ordinary else "always")
    for word, spelled in zip(words, variants, strict=True):
        if len(word) < 2 or word in PARTICLES:
            continue
        add(((s,) for s in spelled), "capitalised" if word in COMMON_WORDS else "always")
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
    """A place or area name to replace by a description: where written with a capital; where `any_case`, in
    lower case too; after "gemeente" always (`takes_prefix`)."""

    words: tuple[str, ...]
    description: str
    takes_prefix: bool = False  # "de gemeente X" -> the description, not "de gemeente een ... gemeente"
    kind: Kind = "neighbourhood"
    rule: str = "neighbourhood"
    any_case: bool = False


Match = tuple[int, Replacement | str]  # how many words, and the replacement or the rule of a removed name


@dataclass
class Anonymiser:
    """Removes contact details, names and unconsented municipalities (and their neighbourhoods)."""

    key: NameKey
    names: dict[str, NameKind] = field(default_factory=dict)
    replacements: list[Replacement] = field(default_factory=list)
    other_names: dict[str, NameKind] = field(default_factory=dict)  # other editions' people: "always" only
    allowed: frozenset[str] = frozenset()  # the edition's false positives, as `phrase` makes them

    def __post_init__(self) -> None:
        self._digests: dict[tuple[str, ...], tuple[str, ...]] = {}  # the same words recur; hash each run once
        self._replacements: dict[tuple[str, ...], Replacement] = {}
        for r in self.replacements:  # the edition's own replacement wins over one from another edition
            if r.words not in self._replacements or r.rule != "municipality_elsewhere":
                self._replacements[r.words] = r
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
        words = [
            Word(m.start(), m.end(), fold(m.group()), m.group()[0].isupper(), _initial(text, m))
            for m in WORD.finditer(text)
        ]
        by_rule = found_names(text, words, COMMON_WORDS)
        changes: list[Change] = []
        position = 0
        i = 0
        while i < len(words):
            match = self._match(text, words, i)
            found = by_rule.get(i)
            longer = found is not None and (match is None or found.last - i + 1 > match[0])
            if found is not None and longer and phrase(w.folded for w in words[i : found.last + 1]) not in self.allowed:
                match = (found.last - i + 1, found.rule)
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
                description = _description(replacement, text, start)
                changes.append(Change(start, position, description, replacement.kind, replacement.rule))
            else:
                changes.append(Change(start, position, REMOVED, "name", replacement))
            i += length
        return changes

    def _match(self, text: str, words: list[Word], i: int) -> Match | None:
        """The longest run of words from i that is a known name or place and no false positive, if any."""
        for length in range(min(self._longest, len(words) - i), 0, -1):
            run = words[i : i + length]
            if length > 1 and not all(JOINER.match(text[a.end : b.start]) for a, b in pairwise(run)):
                continue
            folded = tuple(w.folded for w in run)
            if phrase(folded) in self.allowed:
                continue
            replacement = self._replacements.get(folded)
            if replacement is not None and (
                run[0].capitalised or replacement.any_case or _after_gemeente(text, run[0].start)
            ):
                return length, replacement
            if length <= MAX_NAME_WORDS:
                rule = self._name_rule(folded, any(w.capitalised for w in run))
                if rule is not None:
                    return length, rule
        return None

    def _name_rule(self, folded: tuple[str, ...], capitalised: bool) -> str | None:
        if folded not in self._digests:
            self._digests[folded] = self.key.digests(folded)
        for digest in self._digests[folded]:
            kind = self.names.get(digest)
            if kind == "always" or (kind == "capitalised" and capitalised):
                return "registered_name"
            if self.other_names.get(digest) == "always":
                return "other_edition_name"
        return None


def phrase(words: Iterable[str]) -> str:
    """How a false positive is kept and compared: its words folded, one space apart."""
    return " ".join(words)


def _initial(text: str, m: re.Match[str]) -> bool:
    return len(m.group()) == 1 and m.group().isupper() and text[m.end() : m.end() + 1] == "."


def _after_gemeente(text: str, start: int) -> bool:
    return MUNICIPALITY_PREFIX.search(text, max(0, start - 20), start) is not None


SENTENCE_END = re.compile(r"(?:^|[.!?]\s+)$")


def _description(replacement: Replacement, text: str, start: int) -> str:
    """The description, with a capital where it begins a sentence."""
    if SENTENCE_END.search(text[:start]):
        return replacement.description[:1].upper() + replacement.description[1:]
    return replacement.description


def municipality_replacement(name: str, description: str, *, elsewhere: bool = False) -> list[Replacement]:
    """`Bergen (NH)` is also written `Bergen`; both give way to the description. In lower case too, unless a
    word of the name is an ordinary word ("houten", "best")."""
    forms = {name, PARENTHESISED.sub(" ", name).strip()}
    out = []
    for form in forms:
        words = tuple(normalised_words(form))
        if words:
            any_case = not any(w in COMMON_WORDS or w in PARTICLES or w in GENERIC_PLACES for w in words)
            rule = "municipality_elsewhere" if elsewhere else "municipality"
            out.append(Replacement(words, description, True, "municipality", rule, any_case))
    return out


def neighbourhood_replacement(name: str) -> list[Replacement]:
    words = tuple(normalised_words(name))
    if not words or (len(words) == 1 and (len(words[0]) < 3 or words[0] in COMMON_WORDS | GENERIC_PLACES)):
        return []
    return [Replacement(words, NEIGHBOURHOOD_DESCRIPTION)]


def false_positive(text: str) -> str:
    """A false positive as an organiser types it ("Bakker", "de Wit"), as `phrase` keeps it."""
    return phrase(normalised_words(text))
