"""Text as pieces that are either as written or changed by the anonymiser, and of what kind the change was.

The public pages need only the resulting text; an organiser's preview shows every change. Both come from the
same pieces, so the preview cannot highlight anything other than what the public text will hold. Pure: no I/O.

A stored text keeps where it was changed already (contact details, a quote's attribution) as marks: spans of
the stored text with their kind. Reading it back (`from_marks`) gives the pieces the anonymiser goes on from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

Kind = Literal["email", "phone", "bsn", "iban", "invisible", "name", "municipality", "neighbourhood", "attribution"]
KINDS = frozenset(get_args(Kind))

Mark = tuple[int, int, Kind]  # start, end (in the stored text) and kind of a changed piece


@dataclass(frozen=True)
class Segment:
    text: str
    kind: Kind | None = None  # None: as written
    # Which rule changed it (anonymise.RULES) and what was there before: the organiser's preview shows both, so a
    # word censored by mistake can be put on the edition's list of false positives. Neither reaches a public page.
    rule: str | None = field(default=None, compare=False)
    original: str | None = field(default=None, compare=False)

    @property
    def changed(self) -> bool:
        return self.kind is not None


@dataclass(frozen=True)
class Change:
    """Replace `start:end` of the joined text by `text`."""

    start: int
    end: int
    text: str
    kind: Kind
    rule: str | None = None  # None: the kind says it


def joined(segments: Iterable[Segment]) -> str:
    return "".join(s.text for s in segments)


def changed(segments: Sequence[Segment], changes: Iterable[Change]) -> list[Segment]:
    """The segments with the changes (sorted, not overlapping, offsets in the joined text) applied.

    A change covers whatever lay in its span, changed before or not; what a change leaves of an earlier changed
    piece keeps that piece's kind. An empty changed piece (a left-out attribution) inside a change's span goes
    with it.
    """
    whole = joined(segments)
    located: list[tuple[int, int, Segment]] = []
    position = 0
    for segment in segments:
        located.append((position, position + len(segment.text), segment))
        position += len(segment.text)
    out: list[Segment] = []
    cursor, i = 0, 0

    def take_until(limit: int) -> None:
        nonlocal i
        while i < len(located):
            start, end, segment = located[i]
            if start > limit or (start == limit and end > start):
                return
            a, b = max(start, cursor), min(end, limit)
            if b > a or (start == end and start >= cursor):
                out.append(replace(segment, text=segment.text[a - start : b - start]))
            if end > limit:
                return  # it goes on past the limit: the rest comes after the change
            i += 1

    for change in changes:
        take_until(change.start)
        out.append(Segment(change.text, change.kind, change.rule or change.kind, whole[change.start : change.end]))
        cursor = change.end
        while i < len(located) and located[i][1] <= cursor and not located[i][0] == located[i][1] == cursor:
            i += 1
    take_until(position)
    return _tidied(out)


def _tidied(segments: list[Segment]) -> list[Segment]:
    """Neighbouring unchanged pieces as one, and no empty unchanged piece."""
    out: list[Segment] = []
    for segment in segments:
        if not segment.changed and not segment.text:
            continue
        if out and not segment.changed and not out[-1].changed:
            out[-1] = Segment(out[-1].text + segment.text)
        else:
            out.append(segment)
    return out


def marks_of(segments: Iterable[Segment]) -> list[Mark]:
    marks: list[Mark] = []
    position = 0
    for segment in segments:
        end = position + len(segment.text)
        if segment.kind is not None:
            marks.append((position, end, segment.kind))
        position = end
    return marks


def from_marks(text: str, marks: Iterable[Sequence[Any]]) -> list[Segment]:
    """The stored text as pieces again. Marks that do not fit the text (out of order, out of range, an unknown
    kind) are left out rather than trusted: they only ever highlight, the text itself is what it is."""
    changes = []
    position = 0
    for mark in marks:
        start, end, kind = mark
        if not (position <= start <= end <= len(text)) or kind not in KINDS:
            continue
        changes.append(Change(start, end, text[start:end], cast(Kind, kind)))
        position = end
    return changed([Segment(text)], changes)
