"""Names and unconsented municipalities out of public text, with names known only as keyed hashes."""

from __future__ import annotations

import pytest

from services.reporting.anonymise import (
    Anonymiser,
    NameKey,
    false_positive,
    municipality_replacement,
    name_digests,
    neighbourhood_replacement,
)
from services.reporting.segments import Change, Segment, changed, from_marks, joined, marks_of

KEY = NameKey.from_secret("test-secret")


def anonymiser(
    *names: str,
    municipalities: tuple[tuple[str, str], ...] = (),
    neighbourhoods: tuple[str, ...] = (),
    key: NameKey = KEY,
) -> Anonymiser:
    digests = {}
    for name in names:
        digests.update(name_digests(key, name))
    replacements = [r for name, description in municipalities for r in municipality_replacement(name, description)]
    replacements += [r for name in neighbourhoods for r in neighbourhood_replacement(name)]
    return Anonymiser(KEY, digests, replacements)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Anna de Vries vertelde over de wijk.", "[verwijderd] vertelde over de wijk."),
        ("Volgens mevrouw De Vries werkt het.", "Volgens mevrouw [verwijderd] werkt het."),
        ("Anna zei het al.", "[verwijderd] zei het al."),
        ("Vraag het aan VRIES.", "Vraag het aan [verwijderd]."),
        ("A. de Vries en anna de vries", "A. [verwijderd] en [verwijderd]"),
        ("Mehmet Yilmaz en Mehmet Yılmaz", "[verwijderd] en [verwijderd]"),
        ("Dit is Annabel, niet Anna.", "Dit is Annabel, niet [verwijderd]."),
    ],
)
def test_participants_names_are_removed_whole_or_by_a_distinctive_part(text: str, clean: str) -> None:
    assert anonymiser("Anna de Vries", "Mehmet Yılmaz").clean(text) == clean


def test_a_name_that_is_also_an_ordinary_word_is_removed_only_where_written_as_a_name() -> None:
    clean = anonymiser("Pieter Groen", "Wil Bakker").clean(
        "Pieter Groen wil groene pleinen; Groen en Bakker wil de bakker spreken, zei Wil."
    )
    assert clean == (
        "[verwijderd] wil groene pleinen; [verwijderd] en [verwijderd] wil de bakker spreken, zei [verwijderd]."
    )


def test_particles_alone_are_never_names() -> None:
    assert anonymiser("Jan van der Berg").clean("De wijk van de toekomst") == "De wijk van de toekomst"


def test_contact_details_are_removed_along_with_names() -> None:
    clean = anonymiser("Anna de Vries").clean("Anna: anna.devries@barneveld.nl, 06-12345678")
    assert clean == "[verwijderd]: [verwijderd], [verwijderd]"


def test_hashes_made_with_another_key_find_nothing() -> None:
    other = NameKey.from_secret("another-secret")
    digests = name_digests(other, "Gijsbrecht Oudeboom")  # no name the rules for unregistered people know
    assert Anonymiser(KEY, digests).clean("Gijsbrecht Oudeboom") == "Gijsbrecht Oudeboom"


def test_the_digests_of_a_name_are_keyed_hashes_not_the_name() -> None:
    digests = name_digests(KEY, "Anna de Vries")
    assert len(digests) == 4  # "anna de vries", "de vries", "anna", "vries"
    assert all(len(d) == 64 and "anna" not in d for d in digests)
    assert name_digests(NameKey.from_secret("x"), "Anna de Vries").keys().isdisjoint(digests)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("In Barneveld lukt dat.", "In een middelgrote gemeente in Gelderland lukt dat."),
        ("De gemeente Barneveld koos.", "Een middelgrote gemeente in Gelderland koos."),
        ("Dat deed de gemeente Barneveld.", "Dat deed een middelgrote gemeente in Gelderland."),
        ("Bij Bergen (NH) ook.", "Bij een kleine gemeente in Noord-Holland (NH) ook."),
        ("Ook Bergen.", "Ook een kleine gemeente in Noord-Holland."),
        ("In Houten staan houten banken.", "In een middelgrote gemeente in Utrecht staan houten banken."),
    ],
)
def test_an_unconsented_municipality_is_described_instead_of_named(text: str, clean: str) -> None:
    municipalities = (
        ("Barneveld", "een middelgrote gemeente in Gelderland"),
        ("Bergen (NH)", "een kleine gemeente in Noord-Holland"),
        ("Houten", "een middelgrote gemeente in Utrecht"),
    )
    assert anonymiser(municipalities=municipalities).clean(text) == clean


def test_the_neighbourhood_of_an_unconsented_trio_is_replaced_unless_it_is_an_ordinary_word() -> None:
    clean = anonymiser(neighbourhoods=("De Burgt", "Centrum")).clean("In De Burgt en het Centrum.")
    assert clean == "In een wijk en het Centrum."


# Where the anonymiser changed a text: the organiser's preview

MUNICIPALITIES = (("Barneveld", "een middelgrote gemeente in Gelderland"),)


def pieces(segments: list[Segment]) -> list[tuple[str, str | None]]:
    return [(s.text, s.kind) for s in segments]


def test_the_segments_say_where_and_why_the_text_was_changed() -> None:
    clean = anonymiser("Anna de Vries", municipalities=MUNICIPALITIES, neighbourhoods=("De Burgt",))
    segments = clean.segments([Segment("Anna uit de gemeente Barneveld (De Burgt): anna@ede.example of 06-12345678.")])
    assert pieces(segments) == [
        ("[verwijderd]", "name"),
        (" uit ", None),
        ("een middelgrote gemeente in Gelderland", "municipality"),
        (" (", None),
        ("een wijk", "neighbourhood"),
        ("): ", None),
        ("[verwijderd]", "email"),
        (" of ", None),
        ("[verwijderd]", "phone"),
        (".", None),
    ]
    assert [s.changed for s in segments] == [True, False, True, False, True, False, True, False, True, False]


def test_a_text_without_anything_to_change_is_one_unchanged_segment() -> None:
    assert pieces(anonymiser("Anna de Vries").segments([Segment("Begin bij de wijk.")])) == [
        ("Begin bij de wijk.", None)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Anna de Vries vertelde over de wijk.",
        "A. de Vries en anna de vries",
        "Pieter Groen wil groene pleinen; Groen en Bakker wil de bakker spreken, zei Wil.",
        "De gemeente Barneveld koos. In Barneveld lukt dat, zei Anna.",
        "Anna: anna.devries@barneveld.nl, 06-12345678 of +31 6 1234 5678 op 01-10-2019 13:00",
        "In De Burgt en het Centrum.",
        "",
    ],
)
def test_the_segments_join_to_exactly_the_published_text(text: str) -> None:
    clean = anonymiser(
        "Anna de Vries", "Pieter Groen", "Wil Bakker", municipalities=MUNICIPALITIES, neighbourhoods=("De Burgt",)
    )
    assert joined(clean.segments([Segment(text)])) == clean.clean(text)


def test_what_was_changed_before_the_text_was_stored_stays_marked_through_its_marks() -> None:
    stored = [Segment("Bel me op "), Segment("[verwijderd]", "phone"), Segment("", "attribution")]
    marks = marks_of(stored)
    assert marks == [(10, 22, "phone"), (22, 22, "attribution")]
    text = joined(stored)
    assert from_marks(text, marks) == stored
    again = anonymiser("Anna de Vries").segments(from_marks(text, marks))
    assert pieces(again) == [("Bel me op ", None), ("[verwijderd]", "phone"), ("", "attribution")]


def test_marks_that_do_not_fit_the_text_are_left_out() -> None:
    assert from_marks("kort", [(2, 40, "name"), (0, 1, "gerucht"), (3, 1, "name")]) == [Segment("kort")]


def test_a_change_that_covers_an_earlier_change_replaces_it() -> None:
    earlier = [Segment("a "), Segment("X", "email"), Segment(" b")]
    assert pieces(changed(earlier, [Change(0, 3, "[weg]", "name")])) == [("[weg]", "name"), (" b", None)]


def test_each_change_says_by_which_rule_and_what_it_replaced() -> None:
    clean = anonymiser("Anna de Vries", municipalities=MUNICIPALITIES)
    text = "Anna en wethouder Karin Hoekstra uit barneveld: bel 06-12345678 of mail k at barneveld dot nl."
    changes = [(s.original, s.rule) for s in clean.segments([Segment(text)]) if s.changed]
    assert changes == [
        ("Anna", "registered_name"),
        ("Karin Hoekstra", "title_name"),
        ("barneveld", "municipality"),
        ("06-12345678", "phone"),
        ("k at barneveld dot nl", "email_spelled"),
    ]


def test_a_false_positive_of_the_edition_is_left_as_written_but_not_the_longer_name_around_it() -> None:
    digests = name_digests(KEY, "Wil Bakker")
    clean = Anonymiser(KEY, digests, allowed=frozenset({false_positive("Bakker")}))
    assert clean.clean("Bakker Van Dam levert; Wil Bakker haalt.") == "Bakker Van Dam levert; [verwijderd] haalt."
