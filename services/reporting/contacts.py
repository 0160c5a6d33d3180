"""Contact details and attributions out of free text: every email address and phone number, whoever's, and the
name after a quote. Pure: no I/O."""

from __future__ import annotations

import re

from .segments import Change, Segment, changed, joined

REMOVED = "[verwijderd]"

EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# A phone number: a country code (+31, 0031, any +NN) or the Dutch trunk 0, then the number's digits, which may be
# grouped by a space, dot, hyphen or slash (" - " too), with an optional "(0)" or parenthesised area code.
_GAP = r"(?:\s?[.\-/]\s?|\s|\)\s?)?"
PHONE = re.compile(
    rf"""
    (?<![\w+@])
    (?:
        (?:\+|00)\d{{1,3}}{_GAP}(?:\(0\){_GAP})?   # +31 6..., 0031 6..., +31 (0)6...
        \d(?:{_GAP}\d){{6,11}}
      | (?:\((?=0\d{{1,3}}\)))?0\d(?:{_GAP}\d){{8}}  # 06-12345678, 030-1234567, (030) 123 45 67
    )
    (?!\d)
    """,
    re.VERBOSE,
)
# "01-10-2019 13:00" has the digits of a phone number; a leading date means it is not one.
DATE_PREFIX = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")

# "Quoted words" — Name, role: the part after the dash says who spoke.
ATTRIBUTED_QUOTE = re.compile(r"""^\s*["“”„'‘’«»](?P<words>.+)["“”'‘’«»]\s*[—–-]+\s*\S.*$""", re.DOTALL)


def scrub(text: str) -> str:
    """Replace email addresses and phone numbers in free text by "[verwijderd]"."""
    return joined(scrubbed([Segment(text)]))


def scrubbed(segments: list[Segment]) -> list[Segment]:
    """`scrub` on pieces of text, keeping where it changed them: addresses first, then phone numbers."""
    text = joined(segments)
    segments = changed(segments, [Change(m.start(), m.end(), REMOVED, "email") for m in EMAIL.finditer(text)])
    text = joined(segments)
    phones = [m for m in PHONE.finditer(text) if not DATE_PREFIX.match(m.group(0))]
    return changed(segments, [Change(m.start(), m.end(), REMOVED, "phone") for m in phones])


def unattributed(quote: str) -> str:
    """A quote without a trailing attribution such as `"..." — Anna, wijkmanager`: quotes are shown anonymously."""
    return joined(unattributed_segments(quote))


def unattributed_segments(quote: str) -> list[Segment]:
    """The quote's words, and where it had quotation marks and an attribution an empty piece that says so."""
    match = ATTRIBUTED_QUOTE.match(quote)
    if match is None:
        return [Segment(quote)]
    return [Segment(match.group("words").strip()), Segment("", "attribution")]
