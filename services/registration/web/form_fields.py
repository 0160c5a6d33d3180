"""The registration form's fields: from the posted form to RegisterTrio, and a refusal's errors back onto the
form (at the input they concern, and in the summary at the top, in the page's order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MultiDict

from shared.contract import ErrorItem
from shared.contract.labels import FIELD_LABELS, TEXT_FIELDS, anchor_for
from shared.municipalities import Municipality

from .rendering import field_id

# Sent for a municipality the form could not resolve: no CBS municipality has it, so the core reports
# `unknown_municipality` together with every other problem instead of a bare schema error.
UNRESOLVED_MUNICIPALITY = "GM0000"
CHOICES = (".role", ".domain", ".language")
REQUIRED_FIELDS = (
    "edition",
    "municipality",
    *(f"members[{i}].{f}" for i in range(3) for f in ("name", "email", "role", "domain")),
    "case.title",
    "case.neighbourhood",
    "case.summary",
    "approver.name",
    "approver.email",
)
PAGE_ORDER = ("edition", "municipality", "members", "case", "approver", "invoice", "consent")


@dataclass
class FormState:
    """What the registration form shows: the entered values, the errors per anchor and the summary."""

    values: MultiDict
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str | None, str]] = field(default_factory=list)  # (anchor id or None, text)

    def add(self, path: str, message: str) -> None:
        anchor = anchor_for(path)
        if anchor is not None:
            self.errors.setdefault(field_id(anchor), []).append(message)
        label = FIELD_LABELS.get(anchor or "", "")
        self.summary.append((field_id(anchor) if anchor else None, f"{label}: {message}" if label else message))


def trio_command(form: MultiDict, municipality: str) -> dict[str, Any]:
    """RegisterTrio from the form. Blank selects are left out (`missing`); blank text goes as typed so the
    intake rules still run on everything else."""

    def text(path: str) -> str:
        return form.get(path, "").strip()

    def member(i: int) -> dict[str, Any]:
        m: dict[str, Any] = {
            "name": text(f"members[{i}].name"),
            "email": text(f"members[{i}].email"),
            "language": text(f"members[{i}].language") or "nl",
        }
        for key in ("role", "domain", "job_title"):
            if text(f"members[{i}].{key}"):
                m[key] = text(f"members[{i}].{key}")
        return m

    body: dict[str, Any] = {
        "edition": text("edition"),
        "municipality": municipality,
        "members": [member(i) for i in range(3)],
        "case": {
            "title": text("case.title"),
            "neighbourhood": text("case.neighbourhood"),
            "summary": text("case.summary"),
            "domains": [d for d in form.getlist("case.domains") if d],
        },
        "approver": {"name": text("approver.name"), "email": text("approver.email")},
        "consent": {
            "privacy": form.get("consent.privacy") == "ja",
            "publish_municipality_name": form.get("consent.publish_municipality_name") == "ja",
        },
        "channel": "web",
    }
    if text("invoice.address") or text("invoice.reference"):
        body["invoice"] = {"address": text("invoice.address"), "reference": text("invoice.reference")}
    return body


def form_errors(state: FormState, errors: list[ErrorItem], municipality_problem: str | None) -> None:
    mentioned = {e.field for e in errors}
    # A schema error stops the intake rules, so report every required field left blank now, not one by one.
    blanks = [
        ErrorItem(field=path, code="schema", message="")
        for path in REQUIRED_FIELDS
        if path not in mentioned and not state.values.get(path, "").strip()
    ]
    if municipality_problem and "municipality" not in mentioned and all(b.field != "municipality" for b in blanks):
        blanks.append(ErrorItem(field="municipality", code="unknown_municipality", message=municipality_problem))
    for e in sorted([*errors, *blanks], key=lambda e: page_order(e.field)):
        message = e.message
        if e.field == "municipality" and municipality_problem:
            message = municipality_problem
        elif e.field == "edition" and not state.values.get("edition", "").strip():
            message = "Kies de editie waarvoor jullie je aanmelden."
        elif (
            e.code in ("schema", "invalid_email")
            and e.field in TEXT_FIELDS
            and not state.values.get(e.field, "").strip()
        ):
            message = "Maak een keuze." if e.field.endswith(CHOICES) else "Vul dit veld in."
        state.add(e.field, message)


def page_order(path: str) -> tuple[int, int]:
    """Errors in the summary follow the page from top to bottom."""
    section = next((i for i, name in enumerate(PAGE_ORDER) if path.startswith(name)), len(PAGE_ORDER))
    anchor = anchor_for(path)
    return section, TEXT_FIELDS.index(anchor) if anchor in TEXT_FIELDS else -1


def municipality_problem(text: str, candidates: list[Municipality]) -> str:
    if not text.strip():
        return "Vul de gemeente in: de naam of de CBS-code (bijvoorbeeld GM0344 voor Utrecht)."
    if candidates:
        names = ", ".join(m.name for m in candidates)
        return f"Meerdere gemeenten passen bij wat je typte: {names}. Kies de juiste uit de lijst."
    return "We vinden geen gemeente met deze naam of code. Kies de gemeente uit de lijst."
