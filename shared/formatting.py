"""Dutch formatting of amounts, dates and times, as every page, document and chat line writes them, and the same
in a member's language (Dutch or English) for what is mailed to them.

Times are shown as in Utrecht, where the sessions are: Europe/Amsterdam, whatever the server's zone.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


def euro(cents: int) -> str:
    """`€ 1.234,56` (and `-€ 12,50` for a credit), as Dutch invoices and forms write amounts."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}€ {whole:,}".replace(",", ".") + f",{rest:02d}"


def euro_compact(cents: int) -> str:
    """`€ 1.200` / `€ 12,50`: whole euros without cents, as the reports and the dashboard write them."""
    whole, rest = divmod(cents, 100)
    grouped = f"{whole:,}".replace(",", ".")
    return f"€ {grouped}" if rest == 0 else f"€ {grouped},{rest:02d}"


def dutch_date(day: date | datetime) -> str:
    """`15 oktober 2027`; a moment is first put in Amsterdam's time, so 23:30 UTC on the 14th is the 15th."""
    if isinstance(day, datetime):
        day = day.astimezone(AMSTERDAM)
    return date_text(day, "nl")


def dutch_datetime(value: datetime | str | None, with_time: bool = True) -> str:
    """`15 oktober 2027, 13:00 uur` (or only the date); an ISO string is read first, None is shown as nothing."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(AMSTERDAM)
    day = date_text(local, "nl")
    return f"{day}, {local:%H:%M} uur" if with_time else day


def dutch_time(value: datetime) -> str:
    """`17:00 uur`, in Amsterdam."""
    return f"{value.astimezone(AMSTERDAM):%H:%M} uur"


# The same in a member's language ("nl" or "en"), as mails, calendar invitations and invoices write them.

MONTH_NAMES = {
    "nl": MONTHS,
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

WEEKDAY_NAMES = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def amount_text(cents: int, language: str) -> str:
    """`€ 242,00` (nl, as `euro`) or `EUR 242.00` (en). The mails only show amounts of zero or more."""
    if language != "en":
        return euro(cents)
    whole, rest = divmod(cents, 100)
    return f"EUR {whole:,}.{rest:02d}"


def date_text(day: date, language: str) -> str:
    return f"{day.day} {MONTH_NAMES[language][day.month - 1]} {day.year}"


def day_text(moment: datetime, language: str) -> str:
    """'dinsdag 15 oktober 2019' in Amsterdam time."""
    local = moment.astimezone(AMSTERDAM)
    return f"{WEEKDAY_NAMES[language][local.weekday()]} {date_text(local, language)}"


def clock_text(moment: datetime, language: str) -> str:
    local = moment.astimezone(AMSTERDAM)
    return f"{local.hour:02d}:{local.minute:02d}" if language == "en" else f"{local.hour:02d}.{local.minute:02d}"


def moment_text(moment: datetime, language: str) -> str:
    """'vrijdag 27 september 2019 om 12.00 uur' / 'Friday 27 September 2019 at 12:00'."""
    if language == "en":
        return f"{day_text(moment, language)} at {clock_text(moment, language)}"
    return f"{day_text(moment, language)} om {clock_text(moment, language)} uur"
