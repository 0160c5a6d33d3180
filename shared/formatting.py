"""Dutch formatting of amounts, dates and times, as every page, document and chat line writes them.

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
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def dutch_datetime(value: datetime | str | None, with_time: bool = True) -> str:
    """`15 oktober 2027, 13:00 uur` (or only the date); an ISO string is read first, None is shown as nothing."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(AMSTERDAM)
    date_text = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{date_text}, {local:%H:%M} uur" if with_time else date_text


def dutch_time(value: datetime) -> str:
    """`17:00 uur`, in Amsterdam."""
    return f"{value.astimezone(AMSTERDAM):%H:%M} uur"
