"""Small server-rendered SVG charts for the organiser's overview and the round's report: no script, no CDN.

Every label is escaped here; the result is inserted into pages as markup.
"""

from __future__ import annotations

from datetime import date

from markupsafe import escape

WIDTH = 560
BAR_HEIGHT = 26
BAR_GAP = 10
LABEL_WIDTH = 130
ACCENT = "#0a5c7a"
MUTED = "#55554f"
RULE = "#d9d6cf"


def bar_chart(title: str, bars: list[tuple[str, int]]) -> str:
    """Horizontal bars, one per label, with the count written next to each."""
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    largest = max((v for _, v in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 50
    parts = [_open(title, height)]
    for i, (label, value) in enumerate(bars):
        y = BAR_GAP + i * (BAR_HEIGHT + BAR_GAP)
        length = round(room * value / largest)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end" fill="{MUTED}" '
            f'font-size="14">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="{ACCENT}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + BAR_HEIGHT * 0.7:.1f}" font-size="14">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def cumulative_chart(title: str, days: list[date]) -> str:
    """A step line of how many there were on each day: registrations over time."""
    height = 220
    left, right, top, bottom = 44, 16, 14, 40
    parts = [_open(title, height)]
    if not days:
        parts.append(f'<text x="{left}" y="{height / 2}" fill="{MUTED}" font-size="14">Nog geen aanmeldingen</text>')
        return "".join([*parts, "</svg>"])
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    total = len(days)
    x_of = lambda d: left + (WIDTH - left - right) * (d - first).days / span  # noqa: E731
    y_of = lambda n: height - bottom - (height - top - bottom) * n / total  # noqa: E731
    points = [(x_of(first), y_of(0))]
    count = 0
    for day in sorted(set(days)):
        points.append((x_of(day), y_of(count)))
        count += days.count(day)
        points.append((x_of(day), y_of(count)))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - right}" y2="{height - bottom}" stroke="{RULE}"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="{RULE}"/>'
        f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>'
        f'<text x="{left - 6}" y="{y_of(total) + 5:.1f}" text-anchor="end" font-size="13">{total}</text>'
        f'<text x="{left - 6}" y="{height - bottom + 5}" text-anchor="end" font-size="13">0</text>'
        f'<text x="{left}" y="{height - 14}" font-size="13" fill="{MUTED}">{escape(_short(first))}</text>'
        f'<text x="{WIDTH - right}" y="{height - 14}" text-anchor="end" font-size="13" fill="{MUTED}">'
        f"{escape(_short(last))}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" '
        f'font-family="system-ui, sans-serif"><title>{escape(title)}</title>'
    )


def _short(day: date) -> str:
    return day.strftime("%d-%m-%Y")
