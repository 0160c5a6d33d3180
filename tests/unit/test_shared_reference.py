"""Shared reference code: Dutch formatting, the municipality data and the contract's field labels, and the chat's
municipality settings agreeing with registration's."""

from __future__ import annotations

from datetime import UTC, date, datetime

from frontends.chat import settings as chat_settings
from frontends.chat.settings import ChatSettings
from services.registration.adapters import load_municipalities
from services.registration.config import M50_FILE, MUNICIPALITIES_FILE, RegistrationConfig
from shared.contract.labels import anchor_for, label_for
from shared.formatting import dutch_date, dutch_datetime, dutch_time, euro, euro_compact
from shared.municipalities import MunicipalityIndex, SizeBand, read_municipalities


def test_amounts_are_written_as_dutch_readers_write_them() -> None:
    assert (euro(20000), euro(123456789), euro(5), euro(-1250)) == ("€ 200,00", "€ 1.234.567,89", "€ 0,05", "-€ 12,50")
    assert (euro_compact(120000), euro_compact(1250), euro_compact(0)) == ("€ 1.200", "€ 12,50", "€ 0")


def test_dates_and_times_are_those_of_amsterdam() -> None:
    late = datetime(2027, 10, 14, 23, 30, tzinfo=UTC)
    assert dutch_date(late) == "15 oktober 2027"
    assert dutch_date(date(2027, 10, 14)) == "14 oktober 2027"
    assert dutch_datetime(late) == "15 oktober 2027, 01:30 uur"
    assert dutch_datetime(late.isoformat(), with_time=False) == "15 oktober 2027"
    assert dutch_datetime(None) == ""
    assert dutch_time(datetime(2028, 1, 4, 12, tzinfo=UTC)) == "13:00 uur"


def test_the_shared_loader_reads_what_registration_reads() -> None:
    config = RegistrationConfig()
    assert read_municipalities(MUNICIPALITIES_FILE, config.m50_file, config.band) == list(load_municipalities(config))


def test_the_chat_reads_the_same_files_with_the_same_band_by_default() -> None:
    settings = ChatSettings(
        werkplaatsen_chat_homeserver="https://matrix.example.org",
        werkplaatsen_chat_user="@bot:example.org",
        werkplaatsen_chat_password="x",
        werkplaatsen_broker_url="amqp://localhost",
    )
    config = RegistrationConfig()
    assert MUNICIPALITIES_FILE.resolve() == chat_settings.MUNICIPALITIES_FILE
    assert settings.registration_m50_file == M50_FILE.resolve()
    assert settings.band == config.band == SizeBand(40_000, 100_000)


def test_the_index_finds_a_municipality_by_name_code_or_part() -> None:
    index = MunicipalityIndex(read_municipalities(MUNICIPALITIES_FILE, M50_FILE, SizeBand(40_000, 100_000)))
    assert index.resolve("gm0344")[0].name == "Utrecht"
    assert index.resolve("sudwest-fryslan")[0].code == "GM1900"  # accents and case do not matter
    assert [m.name for m in index.search("veenen")] == ["Veenendaal"]


def test_an_error_path_is_labelled_by_its_nearest_field_or_group() -> None:
    assert anchor_for("case.domains[0]") == "case.domains"
    assert label_for("members[1].email") == "Lid 2, e-mailadres"
    assert label_for("nothing.known") == ""
