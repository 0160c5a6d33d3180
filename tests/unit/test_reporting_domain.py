"""Reporting rules: anonymisation of free text and Dutch dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.reporting.contacts import scrub, unattributed
from services.reporting.domain import Instrument, SessionReport, anonymised
from shared.formatting import dutch_date


@pytest.mark.parametrize(
    "text", ["anna.de.vries@barneveld.nl", "j_de-vries+werkplaats@gemeente.example.org", "Bram.Jansen@Utrecht.NL"]
)
def test_email_addresses_are_removed(text: str) -> None:
    assert scrub(f"Mail {text} voor de slides.") == "Mail [verwijderd] voor de slides."


@pytest.mark.parametrize(
    "number",
    [
        "06-12345678",
        "06 12345678",
        "0612345678",
        "06 1234 5678",
        "06-1234 5678",
        "+31 6 12345678",
        "+31612345678",
        "+31 (0)6 12345678",
        "+31 (0)6-12345678",
        "0031 6 12345678",
        "030-1234567",
        "030 123 45 67",
        "(030) 123 45 67",
        "020 - 1234567",
        "0111-123456",
        "030/1234567",
        "+32 2 123 45 67",
    ],
)
def test_phone_numbers_in_dutch_and_international_formats_are_removed(number: str) -> None:
    assert scrub(f"Bel {number} als je vragen hebt.") == "Bel [verwijderd] als je vragen hebt."


@pytest.mark.parametrize(
    "text",
    [
        "In 2027 kwamen 6 trio's uit 5 gemeenten bijeen.",
        "De bijeenkomst duurde van 13:00-17:00 uur.",
        "De agenda loopt van 2019-2020 en daarna tot 2030.",
        "Budget € 20.000 voor 0,5 fte, jongeren van 0-18 jaar.",
        "Postcode 3511 AB, huisnummer 12.",
        "Op 01-10-2019 13:00 begon de werkplaats.",
        "Versie 0.9.1 van het afwegingskader.",
    ],
)
def test_ordinary_numbers_dates_and_amounts_are_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_several_contact_details_in_one_text_are_all_removed() -> None:
    text = "Contact: a.b@c.nl, 06-12345678 of 030-1234567."
    assert scrub(text) == "Contact: [verwijderd], [verwijderd] of [verwijderd]."


@pytest.mark.parametrize(
    ("quote", "shown"),
    [
        ('"Begin bij de opgave van de wijk." — Anna, wijkmanager', "Begin bij de opgave van de wijk."),
        ("“Samen optrekken werkt.” – een wethouder", "Samen optrekken werkt."),
        ("'Laat de bewoner meepraten' - Bram (Barneveld)", "Laat de bewoner meepraten"),
    ],
)
def test_a_trailing_attribution_is_cut_from_a_quote(quote: str, shown: str) -> None:
    assert unattributed(quote) == shown


@pytest.mark.parametrize(
    "quote", ["Het gaat om samenwerken – niet om structuren.", '"Wijkgericht werken is een houding."']
)
def test_a_quote_without_attribution_keeps_its_words(quote: str) -> None:
    assert unattributed(quote) == quote


def test_anonymised_report_scrubs_every_free_text_field_and_unattributes_quotes() -> None:
    report = SessionReport(
        edition="2027-najaar",
        session_number=1,
        title="Lokale agenda",
        starts_at=datetime(2027, 11, 7, 12, tzinfo=UTC),
        trios=6,
        municipalities=5,
        completed_at=datetime(2027, 11, 7, 17, tzinfo=UTC),
        lessons=["Vraag het na via wijk@utrecht.nl"],
        instruments=[Instrument("Wijkscan (06-12345678)", "Info: 030-1234567")],
        quotes=['"Bel me: +31 6 12345678" — Anna'],
        next_steps=["Afspraak met x@y.nl"],
    )
    clean = anonymised(report)
    assert clean.lessons == ["Vraag het na via [verwijderd]"]
    assert clean.instruments == [Instrument("Wijkscan ([verwijderd])", "Info: [verwijderd]")]
    assert clean.quotes == ["Bel me: [verwijderd]"]
    assert clean.next_steps == ["Afspraak met [verwijderd]"]
    assert (clean.title, clean.trios, clean.municipalities) == ("Lokale agenda", 6, 5)


def test_dates_are_written_in_dutch_as_they_fall_in_utrecht() -> None:
    assert dutch_date(datetime(2027, 10, 15, 11, tzinfo=UTC)) == "15 oktober 2027"
    # 23:30 UTC on 14 October is already the 15th in Amsterdam (summer time).
    assert dutch_date(datetime(2027, 10, 14, 23, 30, tzinfo=UTC)) == "15 oktober 2027"
    assert dutch_date(datetime(2028, 1, 4, 12, tzinfo=UTC)) == "4 januari 2028"
