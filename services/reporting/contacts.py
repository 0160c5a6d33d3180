"""Contact details and identifying numbers out of free text: every email address (also spelled out: "naam at
gemeente dot nl"), phone number, BSN and IBAN, whoever's; invisible characters that would hide a name or number
from the other rules; and the name after a quote. Pure: no I/O.

These rules need no knowledge of who is registered, so they also run when notes are stored (domain.anonymised):
what they remove never reaches reporting's store.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import iban
from stdnum.nl import bsn

from .segments import Change, Kind, Segment, changed, joined

REMOVED = "[verwijderd]"

# Characters that show nothing but split a word for a pattern: a soft hyphen ("Ann\u00ada"), zero-width space,
# (non-)joiner, word joiner, BOM, and the bidirectional marks. They are taken out of published text altogether,
# before any other rule looks at it.
INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")

EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# An address written out so a spam filter would not see it: "anna at barneveld dot nl", "anna [at] barneveld
# [punt] nl", "anna(apenstaartje)barneveld.nl". It needs the written "at" and a domain ending in a "dot" and a
# top-level domain, so "we kwamen at home" stays.
_AT = r"(?:\s*[\[({<]\s*(?:at|apenstaartje|@)\s*[\])}>]\s*|\s+(?:at|apenstaartje)\s+|\s*@\s+|\s+@\s*)"
_DOT = r"(?:\s*[\[({<]\s*(?:dot|punt|\.)\s*[\])}>]\s*|\s+(?:dot|punt)\s+|\s*\.\s*)"
SPELLED_EMAIL = re.compile(
    rf"(?<![\w.%+-])[\w.%+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*?{_DOT}(?:nl|com|org|net|eu|be|de|info|gov|edu|io)\b",
    re.IGNORECASE | re.UNICODE,
)

# A phone number: a country code (+31, 0031, (0031), any +NN) or the Dutch trunk 0, then the number's digits,
# which may be grouped by spaces, a dot, any dash or a slash, with an optional "(0)" or parenthesised area code.
_GAP = r"(?:[ \t\u00a0\u202f]{0,3}[.\-‐‑‒–—/][ \t\u00a0\u202f]{0,3}|[ \t\u00a0\u202f]{1,3}|\)[ \t\u00a0\u202f]{0,3})?"
PHONE = re.compile(
    rf"""
    (?<![\w+@])
    (?:
        \(?(?:\+|00)\d{{1,3}}\)?{_GAP}(?:\(0\){_GAP})?   # +31 6..., 0031 6..., (0031) 6..., +31 (0)6...
        \d(?:{_GAP}\d){{6,11}}
      | (?:\((?=0\d{{1,3}}\)))?0\d(?:{_GAP}\d){{8}}  # 06-12345678, 030-1234567, (030) 123 45 67
    )
    (?!\d)
    """,
    re.VERBOSE,
)
# "01-10-2019 13:00" has the digits of a phone number; a leading date (a day, a month and a year) means it is
# not one. "06.12.34.56.78" has no year, so it is a phone number.
DATE_PREFIX = re.compile(r"^\d{1,2}([-/.])\d{1,2}\1(?:(?:19|20)\d{2}|\d{2}(?![-/.]?\d))")

# Nine digits (a BSN; eight for the oldest, with a leading zero implied), grouped as people write them; only
# those that pass the 11-test count, unless the word BSN stands before them.
BSN_CANDIDATE = re.compile(r"(?<![\w.,])\d(?:[ .\-]?\d){7,8}(?![\w]|[.,]\d)")
BSN_CONTEXT = re.compile(r"(?:bsn|burgerservicenummer|sofi-?nummer)[\s:.#-]*(?:nummer|nr\.?)?[\s:.#-]*$", re.I)
# A country code, check digits and the account in groups; stdnum.iban validates (the check digits, the country's
# length and format), so an ordinary code or reference is not mistaken for one.
IBAN_CANDIDATE = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,30}(?![\w])")

# "Quoted words" — Name, role: the part after the dash says who spoke.
ATTRIBUTED_QUOTE = re.compile(r"""^\s*["“”„'‘’«»](?P<words>.+)["“”'‘’«»]\s*[—–-]+\s*\S.*$""", re.DOTALL)


def scrub(text: str) -> str:
    """Replace email addresses, phone numbers, BSNs and IBANs in free text by "[verwijderd]"."""
    return joined(scrubbed([Segment(text)]))


def scrubbed(segments: list[Segment]) -> list[Segment]:
    """`scrub` on pieces of text, keeping where it changed them: invisible characters first, then addresses,
    IBANs (before phone numbers: an IBAN's digits would otherwise read as one), phone numbers, then BSNs (after
    phone numbers, whose first nine digits may pass the 11-test)."""
    segments = _apply(segments, lambda t: [Change(m.start(), m.end(), "", "invisible") for m in INVISIBLE.finditer(t)])
    segments = _apply(segments, lambda t: _matches(t, EMAIL, "email"))
    segments = _apply(segments, lambda t: _matches(t, SPELLED_EMAIL, "email", "email_spelled"))
    segments = _apply(segments, _ibans)
    segments = _apply(segments, _phones)
    return _apply(segments, _bsns)


def _apply(segments: list[Segment], rule: Callable[[str], list[Change]]) -> list[Segment]:
    return changed(segments, rule(joined(segments)))


def _matches(text: str, pattern: re.Pattern[str], kind: Kind, rule: str | None = None) -> list[Change]:
    return [Change(m.start(), m.end(), REMOVED, kind, rule) for m in pattern.finditer(text)]


def _ibans(text: str) -> list[Change]:
    """Each candidate, or the longest of its beginnings that ends before a space ("NL91 ABNA 0417 1643 00 ok"
    reads as a candidate up to "ok"), that is a valid IBAN."""
    changes = []
    for m in IBAN_CANDIDATE.finditer(text):
        candidate = m.group()
        while candidate:
            if iban.is_valid(candidate.upper()):
                changes.append(Change(m.start(), m.start() + len(candidate), REMOVED, "iban"))
                break
            candidate = candidate[: max(candidate.rfind(" "), candidate.rfind("-"), 0)]
    return changes


def _bsns(text: str) -> list[Change]:
    changes = []
    for m in BSN_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        named = BSN_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]) is not None
        if named or (len(digits) == 9 and bsn.is_valid(digits)):
            changes.append(Change(m.start(), m.end(), REMOVED, "bsn", "bsn_named" if named else "bsn"))
    return changes


def _phones(text: str) -> list[Change]:
    return [Change(m.start(), m.end(), REMOVED, "phone") for m in PHONE.finditer(text) if not DATE_PREFIX.match(m[0])]


def unattributed(quote: str) -> str:
    """A quote without a trailing attribution such as `"..." — Anna, wijkmanager`: quotes are shown anonymously."""
    return joined(unattributed_segments(quote))


def unattributed_segments(quote: str) -> list[Segment]:
    """The quote's words, and where it had quotation marks and an attribution an empty piece that says so."""
    match = ATTRIBUTED_QUOTE.match(quote)
    if match is None:
        return [Segment(quote)]
    return [Segment(match.group("words").strip()), Segment("", "attribution")]
