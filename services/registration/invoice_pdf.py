"""The PDF of an invoice or credit note ("Factuur" / "Creditnota"), drawn with ReportLab's canvas.

Why not HTML: WeasyPrint cost about 335 ms of CPU per invoice (two thirds of it subsetting the fonts with
fontTools), and every placed trio that pays gets one. ReportLab subsets its TrueType fonts itself and keeps them
parsed between documents, so a page costs a few milliseconds.

The registrant's own text (address, reference) only ever reaches the page through `drawString`, which writes it as
a PDF string: no markup is interpreted, so it shows literally. DejaVu Sans is embedded (as a subset); it covers
Dutch (ë, é, ĳ) and €.
"""

from __future__ import annotations

import functools
import io
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import reportlab  # type: ignore[import-untyped]
from reportlab.lib.colors import Color, HexColor  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core (deploy/Dockerfile, scripts/reporting-setup)
REGULAR, BOLD = "InvoiceSans", "InvoiceSans-Bold"
_FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
# Without DejaVu (a machine that installed nothing: `werkplaatsen dev`), Bitstream Vera, which DejaVu extends and
# ReportLab carries: fewer scripts, the same look, and an invoice is never held up by a missing system font.
_FALLBACK_DIR = Path(reportlab.__file__).parent / "fonts"
_FALLBACK_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf"}

PAGE_WIDTH, PAGE_HEIGHT = A4
TOP, RIGHT, BOTTOM, LEFT = 20 * mm, 18 * mm, 22 * mm, 22 * mm
CONTENT_WIDTH = PAGE_WIDTH - LEFT - RIGHT
ACCENT, TEXT, MUTED, SOFT = HexColor("#0b4f6c"), HexColor("#111111"), HexColor("#444444"), HexColor("#555555")
RULE, PAYMENT_BACKGROUND = HexColor("#cccccc"), HexColor("#eef5f8")
BODY, SMALL = 9.5, 8.0
LINE_HEIGHT = 1.35
_TOKENS = re.compile(r"[^ ]+| +")

_fonts_lock = threading.Lock()


@dataclass(frozen=True)
class Run:
    """A piece of a paragraph in one font; `whole` keeps it on one line (an amount, a date, an IBAN)."""

    text: str
    font: str = REGULAR
    whole: bool = False


def _register_fonts() -> None:
    # Parsing DejaVu takes tens of milliseconds: once per process, then every document reuses it.
    with _fonts_lock:
        registered = pdfmetrics.getRegisteredFontNames()
        found = all((FONT_DIR / filename).is_file() for filename in _FONT_FILES.values())
        directory, files = (FONT_DIR, _FONT_FILES) if found else (_FALLBACK_DIR, _FALLBACK_FILES)
        for name, filename in files.items():
            if name not in registered:
                pdfmetrics.registerFont(TTFont(name, str(directory / filename)))


def _printable(text: str) -> str:
    # Control characters (a tab or a stray newline in the registrant's text) have no glyph: show them as a space.
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


@functools.lru_cache(maxsize=4096)  # the same words and amounts come back on every invoice
def _width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def _pieces(token: str, run: Run, size: float, width: float) -> list[str]:
    """A word, or a word too wide for the line cut where it must be (a long reference without spaces)."""
    if _width(token, run.font, size) <= width:
        return [token]
    pieces, current = [], ""
    for char in token:
        if current and _width(current + char, run.font, size) > width:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current]


def wrap(runs: Sequence[Run], size: float, width: float) -> list[list[Run]]:
    """The runs set in lines no wider than `width`, broken at spaces (a run with `whole` is not broken)."""
    lines: list[list[Run]] = [[]]
    used = 0.0
    space: Run | None = None  # a space between words, written only if the next word stays on the line
    for run in runs:
        text = _printable(run.text)
        for token in [text] if run.whole else _TOKENS.findall(text):
            if token.startswith(" ") and not run.whole:
                space = Run(" ", run.font) if lines[-1] else None
                continue
            for piece in _pieces(token, run, size, width):
                piece_width = _width(piece, run.font, size)
                space_width = _width(" ", space.font, size) if space else 0.0
                if lines[-1] and used + space_width + piece_width > width:
                    lines.append([])
                    used, space, space_width = 0.0, None, 0.0
                if space:
                    _append(lines[-1], space.text, space.font)
                    used += space_width
                    space = None
                _append(lines[-1], piece, run.font)
                used += piece_width
    return lines


def _append(line: list[Run], text: str, font: str) -> None:
    # Words in the same font become one run: one drawString per run is most of the cost of a page.
    if line and line[-1].font == font:
        line[-1] = Run(line[-1].text + text, font)
    else:
        line.append(Run(text, font))


class _Page:
    """The canvas and the cursor going down it; a block that does not fit starts a new page."""

    def __init__(self, canvas: Canvas, footer: str) -> None:
        self.canvas = canvas
        self.footer = footer
        self.y = PAGE_HEIGHT - TOP
        self._draw_footer()

    def _draw_footer(self) -> None:
        self.canvas.setFont(REGULAR, 7.5)
        self.canvas.setFillColor(SOFT)
        for n, line in enumerate(reversed(wrap([Run(self.footer)], 7.5, CONTENT_WIDTH))):
            x = LEFT + (CONTENT_WIDTH - sum(_width(r.text, r.font, 7.5) for r in line)) / 2
            self.canvas.drawString(x, BOTTOM - 10 - n * 10, "".join(r.text for r in line))

    def room(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.canvas.showPage()
            self.y = PAGE_HEIGHT - TOP
            self._draw_footer()

    def text(
        self,
        lines: Sequence[Sequence[Run]],
        x: float,
        size: float,
        color: Color = TEXT,
        align: str = "left",
        width: float = 0.0,
        top: float | None = None,
    ) -> float:
        """Writes the lines from `top` (the cursor if not given) down; returns the height they take."""
        leading = size * LINE_HEIGHT
        top = self.y if top is None else top
        self.canvas.setFillColor(color)
        for n, line in enumerate(lines):
            baseline = top - n * leading - (leading - size) / 2 - size * 0.8
            line_width = sum(_width(r.text, r.font, size) for r in line)
            cursor = x + width - line_width if align == "right" else x
            for run in line:
                self.canvas.setFont(run.font, size)
                self.canvas.drawString(cursor, baseline, run.text)
                cursor += _width(run.text, run.font, size)
        return len(lines) * leading

    def paragraph(self, runs: Sequence[Run], size: float = BODY, color: Color = TEXT, align: str = "left") -> None:
        lines = wrap(runs, size, CONTENT_WIDTH)
        self.room(len(lines) * size * LINE_HEIGHT)
        self.y -= self.text(lines, LEFT, size, color, align=align, width=CONTENT_WIDTH)

    def rule(self, y: float, x: float, width: float, thickness: float, color: Color) -> None:
        self.canvas.setStrokeColor(color)
        self.canvas.setLineWidth(thickness)
        self.canvas.line(x, y, x + width, y)


@dataclass(frozen=True)
class Content:
    """What the page shows, already formatted in Dutch (invoices.py makes it from the invoice)."""

    title: str
    heading: str  # "Factuur" or "Creditnota"
    seller_name: str
    seller_lines: tuple[str, ...]
    footer: str
    buyer_lines: tuple[str, ...]
    meta: tuple[tuple[str, str], ...]
    line: tuple[str, str, str, str, str]  # description, quantity, price, VAT, amount
    totals: tuple[tuple[str, str], ...]  # the last one is the total
    payment: tuple[Run, ...]
    small: str
    author: str


def render(content: Content) -> bytes:
    _register_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, lang="nl", initialFontName=REGULAR, initialFontSize=BODY)
    canvas.setTitle(content.title)
    canvas.setAuthor(content.author)
    canvas.setSubject(content.title)
    canvas.setCreator("Werkplaatsen")
    page = _Page(canvas, content.footer)

    page.paragraph([Run(content.seller_name, BOLD)], size=13, color=ACCENT, align="right")
    page.y -= 3
    for line in content.seller_lines:
        page.paragraph([Run(line)], size=8.5, color=HexColor("#333333"), align="right")

    page.y -= 14 * mm
    buyer_top = page.y
    for line in content.buyer_lines:
        page.paragraph([Run(line)])
    page.y = min(page.y, buyer_top - 32 * mm)  # the address window keeps its height

    page.y -= 8 * mm
    page.paragraph([Run(content.heading, BOLD)], size=20, color=ACCENT)
    page.y -= 4 * mm
    _meta(page, content.meta)
    page.y -= 8 * mm
    _line_table(page, content.line)
    page.y -= 4 * mm
    _totals(page, content.totals)
    page.y -= 10 * mm
    _payment(page, content.payment)
    page.y -= 6 * mm
    page.paragraph([Run(content.small)], size=SMALL, color=MUTED)

    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _meta(page: _Page, rows: Sequence[tuple[str, str]]) -> None:
    label_width = max(_width(label, REGULAR, BODY) for label, _ in rows) + 10
    for label, value in rows:
        values = wrap([Run(value)], BODY, CONTENT_WIDTH - label_width)
        height = len(values) * BODY * LINE_HEIGHT + 2
        page.room(height)
        page.text([[Run(label)]], LEFT, BODY, MUTED, top=page.y - 1)
        page.text(values, LEFT + label_width, BODY, top=page.y - 1)
        page.y -= height


_COLUMNS = (("Omschrijving", 0.0), ("Aantal", 44.0), ("Prijs", 72.0), ("Btw", 68.0), ("Bedrag", 72.0))


def _line_table(page: _Page, line: Sequence[str]) -> None:
    widths = [CONTENT_WIDTH - sum(w for _, w in _COLUMNS), *(w for _, w in _COLUMNS[1:])]
    header_height = 8.5 * LINE_HEIGHT + 6
    page.room(header_height + 3 * BODY * LINE_HEIGHT)
    x = LEFT
    for n, ((title, _), width) in enumerate(zip(_COLUMNS, widths, strict=True)):
        page.text([[Run(title, BOLD)]], x + 4, 8.5, align="right" if n else "left", width=width - 8, top=page.y - 3)
        x += width
    page.y -= header_height
    page.rule(page.y, LEFT, CONTENT_WIDTH, 1.2, ACCENT)
    cells = [wrap([Run(text)], BODY, width - 8) for text, width in zip(line, widths, strict=True)]
    height = max(len(c) for c in cells) * BODY * LINE_HEIGHT + 10
    page.room(height)
    x = LEFT
    for n, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        page.text(cell, x + 4, BODY, align="right" if n else "left", width=width - 8, top=page.y - 5)
        x += width
    page.y -= height
    page.rule(page.y, LEFT, CONTENT_WIDTH, 0.5, RULE)


def _totals(page: _Page, rows: Sequence[tuple[str, str]]) -> None:
    amount_width = max(_width(amount, BOLD, BODY) for _, amount in rows) + 8
    label_width = min(max(_width(label, BOLD, BODY) for label, _ in rows) + 20, CONTENT_WIDTH - amount_width - 16)
    x = LEFT + CONTENT_WIDTH - amount_width - label_width
    for n, (label, amount) in enumerate(rows):
        total = n == len(rows) - 1
        font = BOLD if total else REGULAR
        labels = wrap([Run(label, font)], BODY, label_width - 20)
        height = len(labels) * BODY * LINE_HEIGHT + 4
        page.room(height)
        if total:
            page.rule(page.y, x, label_width + amount_width, 1.2, ACCENT)
        page.text(labels, x + 16, BODY, top=page.y - 2)
        page.text([[Run(amount, font)]], x + label_width, BODY, align="right", width=amount_width - 4, top=page.y - 2)
        page.y -= height


def _payment(page: _Page, runs: Sequence[Run]) -> None:
    padding = 4 * mm
    lines = wrap(runs, BODY, CONTENT_WIDTH - 2 * padding)
    height = len(lines) * BODY * LINE_HEIGHT + 2 * padding
    page.room(height)
    page.canvas.setFillColor(PAYMENT_BACKGROUND)
    page.canvas.rect(LEFT, page.y - height, CONTENT_WIDTH, height, stroke=0, fill=1)
    page.text(lines, LEFT + padding, BODY, top=page.y - padding)
    page.y -= height
