"""The edition form: a ScheduleEdition as the inputs of a page, and the inputs back as the command. Pure (no I/O).

Moments are typed as the organiser reads them, in Europe/Amsterdam (a date and a time; the browser's date and
time pickers send ISO forms, a typed 15-10-2027 works too) and become aware datetimes. The fee is typed in euros.
A refusal, whether the form's own (a date that is no date), the contract's or the scheduling service's, comes
back as ErrorItems whose field (`sessions[1].starts_at`) names the input it belongs next to (`input_for`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from pydantic import ValidationError

from shared.contract import ErrorItem
from shared.contract.scheduling import ScheduleEdition
from shared.formatting import AMSTERDAM
from shared.messaging.errors import validation_errors

SIZE_CLASSES: Final = ("klein", "middelgroot", "groot")
MIN_SESSIONS: Final = 3  # the programme's three sessions; an edition may have more (up to MAX_SESSIONS)
MAX_SESSIONS: Final = 6
SESSION_PARTS: Final = ("title", "outcome", "date", "starts", "ends")
CHECKED: Final = "ja"
# Capacity, fee and who goes first as the announcement has them: 6-8 trios, EUR 200, medium-sized first and free.
DEFAULTS: Final[Mapping[str, str]] = {
    "capacity.min_trios": "6",
    "capacity.max_trios": "8",
    "fee.amount": "200",
    "fee.waived.middelgroot": CHECKED,
    "priority.middelgroot": CHECKED,
    "table_size": "2",
}
TEXTS: Final[Mapping[str, str]] = {
    "edition": "Korte naam (slug)",
    "title": "Titel",
    "venue.name": "Naam van de locatie",
    "venue.address": "Adres",
    "venue.city": "Plaats",
    "capacity.min_trios": "Minimum aantal trio's",
    "capacity.max_trios": "Maximum aantal trio's",
    "registration_deadline": "Moment van plaatsing",
    "registration_closes_at": "Aanmelding sluit",
    "fee.amount": "Bijdrage per trio",
    "fee.waived": "Geen bijdrage voor",
    "priority": "Voorrang bij overinschrijving",
    "table_size": "Trio's per tafel",
    "publish_reports_at_once": "Verslagen meteen publiceren",
    "sessions": "Bijeenkomsten",
}
PART_TEXTS: Final = {
    "title": "thema",
    "outcome": "opbrengst",
    "date": "datum",
    "starts": "begintijd",
    "ends": "eindtijd",
}
SESSION_FIELD: Final = re.compile(r"sessions\[(\d+)\](?:\.(\w+))?")
CONTRACT_PARTS: Final = {"starts_at": "starts", "ends_at": "ends", "title": "title", "outcome": "outcome"}
GROUPS: Final = (("fee.waived", "fee.waived"), ("fee.", "fee.amount"), ("priority_size_classes", "priority"))
YEAR: Final = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])")


@dataclass
class EditionForm:
    """What the form template shows: the inputs' values and, per input, why it was refused."""

    values: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (anchor, Dutch text) for the list at the top

    @property
    def session_rows(self) -> range:
        filled = [i for i in range(MAX_SESSIONS) if any(self.values.get(_part(i, p)) for p in SESSION_PARTS)]
        return range(max(MIN_SESSIONS, filled[-1] + 1 if filled else 0))

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str) -> bool:
        return self.values.get(name) == CHECKED

    def error(self, name: str) -> str:
        return " ".join(self.errors.get(name, []))

    @staticmethod
    def id_of(name: str) -> str:
        return input_id(name)

    def refused(self, items: list[ErrorItem]) -> EditionForm:
        """This form again, with ITEMS next to their inputs (and all of them listed at the top)."""
        for item in items:
            name = input_for(item.field)
            if name:
                self.errors.setdefault(name, []).append(item.message)
            label = label_for(name)
            self.summary.append(
                ("#" + input_id(name) if name else "", f"{label}: {item.message}" if label else item.message)
            )
        return self


def input_id(name: str) -> str:
    return "veld-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _part(index: int, part: str) -> str:
    return f"sessions[{index}].{part}"


def input_for(error_field: str) -> str:
    """The input (or group of inputs) an ErrorItem's field belongs to; "" for the form as a whole."""
    if error_field in TEXTS:
        return error_field
    session = SESSION_FIELD.fullmatch(error_field)
    if session:
        index, part = int(session.group(1)), session.group(2)
        if part in SESSION_PARTS:
            return _part(index, part)
        if part in CONTRACT_PARTS:
            return _part(index, CONTRACT_PARTS[part])
        return f"sessions[{index}]"
    for prefix, name in GROUPS:
        if error_field.startswith(prefix):
            return name
    if error_field in ("venue", "capacity"):
        return f"{error_field}.name" if error_field == "venue" else "capacity.min_trios"
    return ""


def label_for(name: str) -> str:
    session = SESSION_FIELD.fullmatch(name)
    if session:
        number, part = int(session.group(1)) + 1, session.group(2)
        return f"Bijeenkomst {number}" + (f", {PART_TEXTS[part]}" if part in PART_TEXTS else "")
    return TEXTS.get(name, "")


# From the inputs to the command ----------------------------------------------------------------------------------


def command_from(values: Mapping[str, str], *, slug: str | None = None) -> ScheduleEdition | list[ErrorItem]:
    """The command the inputs make (SLUG, when given, is the edition's: an edit cannot rename it), or every reason
    it cannot be made, the form's own and the contract's together."""
    reader = _Reader(values)
    body = reader.body(slug)
    try:
        command = ScheduleEdition.model_validate(body)
    except ValidationError as exc:
        return reader.problems + [e for e in validation_errors(exc) if e.field not in reader.covered]
    return reader.problems or command


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.problems: list[ErrorItem] = []
        self.covered: set[str] = set()  # contract fields left out because the form already said why

    def text(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def refuse(self, name: str, contract_field: str, code: str, message: str) -> None:
        self.problems.append(ErrorItem(field=name, code=code, message=message))
        self.covered.add(contract_field)

    def body(self, slug: str | None) -> dict[str, Any]:
        body: dict[str, Any] = _given(
            edition=slug if slug is not None else self.text("edition"),
            title=self.text("title"),
            venue=_given(**{k: self.text(f"venue.{k}") for k in ("name", "address", "city")}),
            capacity=_given(min_trios=self.text("capacity.min_trios"), max_trios=self.text("capacity.max_trios")),
            registration_deadline=self.moment("registration_deadline"),
            registration_closes_at=self.moment("registration_closes_at"),
            fee=_given(
                amount_cents=self.cents("fee.amount", "fee.amount_cents"),
                waived_for_size_classes=[c for c in SIZE_CLASSES if self.values.get(f"fee.waived.{c}") == CHECKED],
            ),
            priority_size_classes=[c for c in SIZE_CLASSES if self.values.get(f"priority.{c}") == CHECKED],
            table_size=self.text("table_size"),
        )
        body["sessions"] = self.sessions()
        body["publish_reports_at_once"] = self.values.get("publish_reports_at_once") == CHECKED
        return body

    def moment(self, name: str) -> datetime | None:
        given = self.text(name)
        if not given:
            return None
        found = _local_moment(given)
        if found is None:
            self.refuse(name, name, "invalid_datetime", "Vul een datum en tijd in, bijvoorbeeld 15-10-2027 13:00.")
        return found

    def cents(self, name: str, contract_field: str) -> int | None:
        given = self.text(name)
        if not given:
            return None
        found = _cents(given)
        if found is None:
            self.refuse(
                name, contract_field, "invalid_amount", "Vul een bedrag in euro's in, bijvoorbeeld 200 of 187,50."
            )
        return found

    def sessions(self) -> list[dict[str, Any]]:
        rows = [i for i in range(MAX_SESSIONS) if any(self.text(_part(i, p)) for p in SESSION_PARTS)]
        return [self.session(index) for index in range(rows[-1] + 1 if rows else 0)]

    def session(self, index: int) -> dict[str, Any]:
        day_text = self.text(_part(index, "date"))
        day = _day(day_text) if day_text else None
        if day_text and day is None:
            self.refuse(
                _part(index, "date"),
                f"sessions[{index}].starts_at",
                "invalid_date",
                "Vul een datum in, bijvoorbeeld 15-10-2027.",
            )
            self.covered.add(f"sessions[{index}].ends_at")
        elif not day_text:
            self.refuse(_part(index, "date"), f"sessions[{index}].starts_at", "missing", "Vul de datum in.")
            self.covered.add(f"sessions[{index}].ends_at")
        moments = {}
        for part, contract_field in (("starts", "starts_at"), ("ends", "ends_at")):
            given = self.text(_part(index, part))
            clock = _clock(given) if given else None
            if clock is None:
                message = "Vul een tijd in, bijvoorbeeld 13:00." if given else "Vul de tijd in."
                self.refuse(_part(index, part), f"sessions[{index}].{contract_field}", "invalid_time", message)
            if day is not None and clock is not None:
                moments[contract_field] = datetime.combine(day, clock, tzinfo=AMSTERDAM)
        return _given(
            number=index + 1,
            title=self.text(_part(index, "title")),
            outcome=self.text(_part(index, "outcome")),
            **moments,
        )


def _given(**fields: Any) -> dict[str, Any]:
    """FIELDS without the ones left empty, so the contract says which are required ("Dit veld is verplicht.")."""
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def _local_moment(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M", "%d-%m-%Y %H.%M"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=AMSTERDAM)
        except ValueError:
            continue
    return None


def _day(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _clock(text: str) -> time | None:
    for pattern in ("%H:%M", "%H:%M:%S", "%H.%M"):
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None


def _cents(text: str) -> int | None:
    """Euros as a Dutch person types them: 200, 200,00, € 1.250,50 (and 200.00)."""
    cleaned = text.replace("€", "").replace(" ", "").replace("\u00a0", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)


# From an edition to the inputs -----------------------------------------------------------------------------------


def values_of(edition: Mapping[str, Any], *, years: int = 0) -> dict[str, str]:
    """The inputs for EDITION as scheduling's API shows it; YEARS > 0 for a copy that many years later (its
    moments, and the years in its slug and title, moved on)."""
    moved = _Mover(years)
    sessions = sorted(edition.get("sessions", []), key=lambda s: s["number"])
    values = {
        "edition": moved.text(edition["slug"]),
        "title": moved.text(edition.get("title", "")),
        **{f"venue.{k}": str((edition.get("venue") or {}).get(k, "")) for k in ("name", "address", "city")},
        "capacity.min_trios": str(edition["capacity"]["min_trios"]),
        "capacity.max_trios": str(edition["capacity"]["max_trios"]),
        "registration_deadline": _input_moment(moved.moment(edition["registration_deadline"])),
        "fee.amount": _euros(int(edition["fee"]["amount_cents"])),
        "table_size": str(edition.get("table_size", DEFAULTS["table_size"])),
    }
    closes_at = moved.moment(edition["registration_closes_at"])
    first = min((moved.moment(s["starts_at"]) for s in sessions), default=None)
    # Closing when the first session starts is the default: left empty, it moves along with that session.
    values["registration_closes_at"] = "" if closes_at == first else _input_moment(closes_at)
    for size in SIZE_CLASSES:
        values[f"fee.waived.{size}"] = CHECKED if size in edition["fee"].get("waived_for_size_classes", []) else ""
        values[f"priority.{size}"] = CHECKED if size in edition.get("priority_size_classes", []) else ""
    if edition.get("publish_reports_at_once"):
        values["publish_reports_at_once"] = CHECKED
    for index, session in enumerate(sessions[:MAX_SESSIONS]):
        starts, ends = moved.moment(session["starts_at"]), moved.moment(session["ends_at"])
        values[_part(index, "title")] = session.get("title", "")
        values[_part(index, "outcome")] = session.get("outcome", "")
        values[_part(index, "date")] = starts.date().isoformat()
        values[_part(index, "starts")] = f"{starts:%H:%M}"
        values[_part(index, "ends")] = f"{ends:%H:%M}"
    return values


@dataclass(frozen=True)
class _Mover:
    years: int

    def text(self, text: str) -> str:
        return YEAR.sub(lambda m: str(int(m.group()) + self.years), text) if self.years else text

    def moment(self, iso: str) -> datetime:
        """The moment in Amsterdam, the same day and time of day YEARS later (29 February: the 28th)."""
        local = datetime.fromisoformat(iso).astimezone(AMSTERDAM)
        if not self.years:
            return local
        try:
            return local.replace(year=local.year + self.years)
        except ValueError:  # 29 February in a year that has none
            return local.replace(year=local.year + self.years, day=28)


def _input_moment(moment: datetime) -> str:
    return f"{moment.astimezone(AMSTERDAM):%Y-%m-%dT%H:%M}"


def _euros(cents: int) -> str:
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents // 100},{cents % 100:02d}"
