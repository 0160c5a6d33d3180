"""The numbers per edition that organiser tools show at a glance (registered, awaiting approval, placed,
waitlisted, the medium-sized share, paid and unpaid invoices), folded from counts the database grouped. Pure:
no I/O; the counts come from adapters/numbers.py, so no trio is loaded to count it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .domain import ACTIVE_STATUSES, SIZE_CLASSES, STATUSES


@dataclass(frozen=True)
class TrioCount:
    """How many trios of EDITION have STATUS and SIZE_CLASS (None: not known yet), registered or not."""

    edition: str
    status: str | None
    size_class: str | None
    registered: bool
    fee_waived: bool
    trios: int


@dataclass(frozen=True)
class InvoiceCount:
    """An edition's invoices, summed in SQL (amounts in cents, VAT included)."""

    edition: str
    invoices: int = 0
    credited: int = 0  # with a credit note
    paid: int = 0  # not credited and paid in full
    unpaid: int = 0  # not credited and something still open
    overdue: int = 0  # unpaid and past their due date
    invoiced_cents: int = 0
    paid_cents: int = 0
    open_cents: int = 0


@dataclass
class EditionNumbers:
    edition: str
    title: str | None = None  # None: reporting knows the edition only from its trios
    max_trios: int | None = None
    registered: int = 0  # every registration, whatever became of it
    unknown_status: int = 0  # known only from an event about its place; its registration has not arrived yet
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    active_by_size: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIZE_CLASSES, 0))
    placed_by_size: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIZE_CLASSES, 0))
    placed_fee_waived: int = 0
    invoices: InvoiceCount | None = None
    round_report_published: bool = False

    def as_json(self) -> dict[str, Any]:
        active = sum(self.by_status[s] for s in STATUSES if s in ACTIVE_STATUSES)
        invoices = self.invoices or InvoiceCount(self.edition)
        return {
            "edition": self.edition,
            "title": self.title,
            "max_trios": self.max_trios,
            "registered": self.registered,
            "active": active,
            "unknown_status": self.unknown_status,
            "by_status": self.by_status,
            "size_classes": {"active": self.active_by_size, "placed": self.placed_by_size},
            "medium_sized": {
                "active": self.active_by_size.get("middelgroot", 0),
                "placed": self.placed_by_size.get("middelgroot", 0),
            },
            "placed_fee_waived": self.placed_fee_waived,
            "invoices": {k: v for k, v in vars(invoices).items() if k != "edition"},
            "round_report_published": self.round_report_published,
        }


def fold(
    editions: Iterable[tuple[str, str, int | None]],
    trios: Iterable[TrioCount],
    invoices: Iterable[InvoiceCount],
    published: Iterable[str],
) -> list[EditionNumbers]:
    """One EditionNumbers per edition reporting knows, from EDITIONS (slug, title, max_trios) or only from the
    trios of one, in slug order."""
    numbers: dict[str, EditionNumbers] = {
        slug: EditionNumbers(slug, title, max_trios) for slug, title, max_trios in editions
    }
    for count in trios:
        edition = numbers.setdefault(count.edition, EditionNumbers(count.edition))
        if not count.registered:
            edition.unknown_status += count.trios
        else:
            edition.registered += count.trios
        if count.status in edition.by_status:
            edition.by_status[count.status] += count.trios
        if not count.registered or count.size_class not in edition.active_by_size:
            continue
        if count.status in ACTIVE_STATUSES:
            edition.active_by_size[count.size_class] += count.trios
        if count.status == "placed":
            edition.placed_by_size[count.size_class] += count.trios
            edition.placed_fee_waived += count.trios if count.fee_waived else 0
    for invoice in invoices:
        numbers.setdefault(invoice.edition, EditionNumbers(invoice.edition)).invoices = invoice
    for slug in published:
        if slug in numbers:
            numbers[slug].round_report_published = True
    return [numbers[slug] for slug in sorted(numbers)]
