"""What the anonymiser missed before issue 18, one test per kind of miss. Each uses only the anonymiser's API that
existed before (Anonymiser, name_digests, municipality_replacement), so each can be run against the old one."""

from __future__ import annotations

import pytest

from services.reporting.anonymise import Anonymiser, NameKey, municipality_replacement, name_digests

KEY = NameKey.from_secret("test-secret")
PEOPLE = ("Björn Öztürk", "Anna de Vries", "Jan van Dijk", "Wil Bakker")
BARNEVELD = ("Barneveld", "een middelgrote gemeente in Gelderland")


def clean(text: str, *, municipalities: tuple[tuple[str, str], ...] = ()) -> str:
    digests = {}
    for name in PEOPLE:
        digests.update(name_digests(KEY, name))
    replacements = [r for name, description in municipalities for r in municipality_replacement(name, description)]
    return Anonymiser(KEY, digests, replacements).clean(text)


@pytest.mark.parametrize(
    "text",
    [
        "Ann\u00ada de Vries vertelde het.",  # soft hyphen
        "An\u200bna de Vries vertelde het.",  # zero-width space
        "Anna de\u200d Vries vertelde het.",  # zero-width joiner
        "\ufeffAnna de Vries vertelde het.",  # BOM
        "Vr\u2060ies vertelde het.",  # word joiner
        "Öz\u200ctürk vertelde het.",  # zero-width non-joiner
    ],
)
def test_invisible_characters_do_not_hide_a_registered_name(text: str) -> None:
    assert clean(text) == "[verwijderd] vertelde het."


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Wethouder Karin Hoekstra opende de bijeenkomst.", "Karin Hoekstra"),
        ("Het idee kwam van mevrouw Dalmeijer.", "Dalmeijer"),
        ("Dhr. Terpstra van de corporatie was er ook.", "Terpstra"),
        ("Volgens mw. J. Zwanenburg werkt het.", "Zwanenburg"),
        ("Burgemeester Van Aartsen schoof aan.", "Aartsen"),
        ("Karin Hoekstra had het voorbeeld.", "Hoekstra"),
        ("Daarna sprak Mohamed over de moskee.", "Mohamed"),
        ("De wijkagent, Peter Kuijpers, zag het anders.", "Kuijpers"),
        ("Daarna sprak wethouder karin hoekstra.", "hoekstra"),
    ],
)
def test_people_nobody_registered_are_not_named(text: str, name: str) -> None:
    assert name not in clean(text)


@pytest.mark.parametrize(
    "text",
    ["Bjoern vertelde het.", "Oeztuerk vertelde het.", "Jan van Dyk vertelde het.", "Bjoern Oeztuerk vertelde het."],
)
def test_a_registered_name_typed_in_another_spelling_is_removed(text: str) -> None:
    assert clean(text) == "[verwijderd] vertelde het."


@pytest.mark.parametrize(
    "text",
    [
        "Bel 06–12345678 (met een kastlijn).",
        "Bel 06.12.34.56.78 voor de sleutel.",
        "Bel 06 -  12345678 voor de sleutel.",
        "Bel (0031) 6 12345678 voor de sleutel.",
        "Bel 030\u2011123 4567 voor de sleutel.",
    ],
)
def test_phone_numbers_in_every_dutch_format_are_removed(text: str) -> None:
    cleaned = clean(text)
    assert cleaned.startswith("Bel [verwijderd] ") and not any(c.isdigit() for c in cleaned)


@pytest.mark.parametrize(
    "text",
    [
        "Mail anna at barneveld dot nl voor de stukken.",
        "Mail anna [at] barneveld [punt] nl voor de stukken.",
        "Mail a.devries(at)barneveld.nl voor de stukken.",
        "Mail anna @ barneveld . nl voor de stukken.",
    ],
)
def test_email_addresses_written_out_are_removed(text: str) -> None:
    assert "barneveld" not in clean(text).casefold()


def test_bsns_and_ibans_are_removed_but_other_numbers_stay() -> None:
    text = "BSN 111222333, rekening NL91 ABNA 0417 1643 00; in 2025 kostte het 1.250.000 euro (3811 AB)."
    assert clean(text) == "BSN [verwijderd], rekening [verwijderd]; in 2025 kostte het 1.250.000 euro (3811 AB)."


def test_a_bsn_that_passes_the_eleven_test_is_removed_without_the_word_bsn() -> None:
    assert clean("Haar nummer is 123456782.") == "Haar nummer is [verwijderd]."


@pytest.mark.parametrize("text", ["In barneveld lukt dat.", "De gemeente barneveld koos."])
def test_an_unconsented_municipality_is_described_in_any_capitalisation(text: str) -> None:
    assert "barneveld" not in clean(text, municipalities=(BARNEVELD,)).casefold()


def test_a_municipality_that_is_an_ordinary_word_stays_as_the_word_but_goes_after_gemeente() -> None:
    houten = ("Houten", "een middelgrote gemeente in Utrecht")
    text = "De gemeente houten koos houten banken."
    assert clean(text, municipalities=(houten,)) == "Een middelgrote gemeente in Utrecht koos houten banken."
