"""Dutch labels of RegisterTrio's field paths, for the error messages the web form and the chat show.

A refusal names a field path (`members[1].email`, or deeper: `case.domains[0]`); `anchor_for` walks it up to the
nearest field or group a person filled in, and `FIELD_LABELS` says what that is called on the form.
"""

from __future__ import annotations

import re

MEMBER_FIELDS = ("name", "email", "role", "domain", "job_title", "language")
# The text fields of a registration, in the order of the form.
TEXT_FIELDS = (
    "edition",
    "municipality",
    *(f"members[{i}].{f}" for i in range(3) for f in MEMBER_FIELDS),
    "case.title",
    "case.neighbourhood",
    "case.summary",
    "approver.name",
    "approver.email",
    "invoice.address",
    "invoice.reference",
)
# Anchors an error can be shown at: the inputs, plus the groups that rules about several fields point to.
GROUP_ANCHORS = (
    "members",
    "members[0]",
    "members[1]",
    "members[2]",
    "case",
    "case.domains",
    "approver",
    "consent",
    "consent.privacy",
    "invoice",
)
FIELD_LABELS = {
    "edition": "Editie",
    "municipality": "Gemeente",
    "members": "Het trio",
    **{f"members[{i}]": f"Lid {i + 1}" for i in range(3)},
    "case": "De casus",
    "case.title": "Titel van de casus",
    "case.neighbourhood": "Wijk of buurt",
    "case.summary": "Korte beschrijving",
    "case.domains": "Beleidsdomeinen van de casus",
    "approver": "Goedkeuring",
    "approver.name": "Naam goedkeurder",
    "approver.email": "E-mailadres goedkeurder",
    "consent": "Toestemming",
    "consent.privacy": "Toestemming privacy",
    "invoice": "Factuurgegevens",
    "invoice.address": "Factuuradres",
    "invoice.reference": "Inkoop- of ordernummer",
    "reason": "Toelichting",
    **{
        f"members[{i}].{f}": f"Lid {i + 1}, {label}"
        for i in range(3)
        for f, label in (
            ("name", "naam"),
            ("email", "e-mailadres"),
            ("role", "rol"),
            ("domain", "domein"),
            ("job_title", "functie"),
            ("language", "taal"),
        )
    },
}
KNOWN_ANCHORS = frozenset((*TEXT_FIELDS, *GROUP_ANCHORS))
PARENT = re.compile(r"(\.[^.\[\]]*|\[\d+\]|^[^.\[\]]+)$")  # `members[1].email` -> `members[1]` -> `members` -> ``


def anchor_for(path: str) -> str | None:
    """The nearest field or group on the page a (possibly deeper) error path belongs to."""
    while path not in KNOWN_ANCHORS:
        parent = PARENT.sub("", path)
        if parent == path:
            return None
        path = parent
    return path


def label_for(path: str) -> str:
    """The label of the field or group an error path belongs to; empty when it belongs to none."""
    return FIELD_LABELS.get(anchor_for(path) or "", "")
