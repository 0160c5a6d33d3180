"""Rode lijnen, the public numbers and municipality consent: the pure parts of the round's report."""

from __future__ import annotations

from datetime import UTC, datetime

from services.reporting.anonymise import NameKey, name_digests
from services.reporting.domain import Case, Municipality, Trio, nameable_municipalities, numbers_of
from services.reporting.themes import Lesson, rode_lijnen, stem
from services.reporting.views import anonymiser_for, domain_list

KEY = NameKey.from_secret("test-secret")


def test_a_lesson_that_recurs_in_two_sessions_is_a_rode_lijn_with_every_lesson_that_supports_it() -> None:
    lessons = [
        Lesson(1, "Bewoners betrekken vraagt om tijd."),
        Lesson(1, "Begin bij de opgave."),
        Lesson(2, "Zonder bewoners geen lokale agenda."),
        Lesson(3, "Het betrekken van bewoners begint klein."),
    ]
    themes = rode_lijnen(lessons)
    assert themes[0].label == "bewoners"
    assert themes[0].sessions == [1, 2, 3]
    assert themes[0].lessons == [lessons[0], lessons[2], lessons[3]]
    assert all("opgave" not in t.label for t in themes)  # one session only


def test_a_recurring_phrase_is_named_as_written_and_makes_its_single_words_redundant() -> None:
    themes = rode_lijnen(
        [Lesson(1, "Een stip op de horizon helpt kiezen."), Lesson(2, "Houd de stip op de horizon vast.")]
    )
    assert [t.label for t in themes] == ["stip op de horizon"]


def test_plural_and_singular_count_as_one_word() -> None:
    assert stem("prioriteiten") == stem("prioriteit") and stem("bewoners") == stem("bewoner")
    assert stem("kansen") == stem("kans")
    themes = rode_lijnen([Lesson(1, "Stel prioriteiten."), Lesson(2, "Eén prioriteit is genoeg.")])
    assert [t.label for t in themes] == ["prioriteit"]  # both forms once: the first in alphabetical order


def test_stop_words_programme_words_and_anonymisation_never_make_a_theme() -> None:
    themes = rode_lijnen(
        [
            Lesson(
                1, "De gemeente moet in de wijk werken met [verwijderd] uit een middelgrote gemeente in Gelderland."
            ),
            Lesson(2, "Wijkgericht werken in de gemeente: [verwijderd] en een middelgrote gemeente in Gelderland."),
        ]
    )
    assert themes == []


def test_a_theme_must_recur_in_different_sessions_not_twice_in_one() -> None:
    assert rode_lijnen([Lesson(1, "Samenwerking loont."), Lesson(1, "Samenwerking kost tijd.")]) == []


def trio(rid: str, code: str, name: str, consent: bool, domains: list[str], size: str = "middelgroot") -> Trio:
    return Trio(
        registration_id=rid,
        edition="2027-najaar",
        registered_at=datetime(2027, 9, 1, tzinfo=UTC),
        municipality=Municipality(code, name, "Gelderland", 60000, size, False),  # type: ignore[arg-type]
        member_domains=domains,
        case=Case("Casus", "De Burgt", "Samenvatting.", ["fysiek", "sociaal"]),
        publish_municipality_name=consent,
        status="placed",
    )


def test_a_municipality_is_named_only_when_each_of_its_trios_in_the_edition_consented() -> None:
    trios = [
        trio("a", "GM0203", "Barneveld", True, ["fysiek"]),
        trio("b", "GM0203", "Barneveld", False, ["sociaal"]),
        trio("c", "GM0228", "Ede", True, ["fysiek"]),
    ]
    assert nameable_municipalities(trios) == {"GM0228"}
    clean = anonymiser_for(KEY, name_digests(KEY, "Anna de Vries"), trios)
    assert clean.clean("Anna de Vries uit Barneveld sprak met Ede over De Burgt.") == (
        "[verwijderd] uit een middelgrote gemeente in Gelderland sprak met Ede over een wijk."
    )


def test_the_numbers_count_municipalities_size_classes_provinces_and_domains() -> None:
    trios = [
        trio("a", "GM0203", "Barneveld", False, ["fysiek", "sociaal", "sociaal"]),
        trio("b", "GM0228", "Ede", True, ["sociaal", "veiligheid", "economie"], size="groot"),
        trio("c", "GM0228", "Ede", True, ["fysiek", "fysiek", "bestuur"], size="groot"),
    ]
    numbers = numbers_of(trios, nameable_municipalities(trios))
    assert numbers.trios == 3
    assert numbers.municipalities == ["Ede", "een middelgrote gemeente in Gelderland"]
    assert numbers.size_classes == {"middelgroot": 1, "groot": 1}
    assert numbers.provinces == {"Gelderland": 2}
    assert numbers.domains == {"fysiek": 2, "sociaal": 2, "veiligheid": 1, "economie": 1, "bestuur": 1}
    assert numbers.both_fysiek_and_sociaal == 1


def test_domains_are_listed_the_dutch_way() -> None:
    assert domain_list(["fysiek", "sociaal", "veiligheid"]) == "fysiek, sociaal en veiligheid"
    assert domain_list(["fysiek"]) == "fysiek"
