"""Registration's municipality classification and its configuration."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from services.registration.adapters import load_municipalities
from services.registration.config import M50_FILE, MUNICIPALITIES_FILE, RegistrationConfig, load_config
from services.registration.domain import SizeBand, size_class
from shared.settings import SettingsError

BAND = SizeBand(40_000, 100_000)


def test_m50_member_below_the_band_is_middelgroot() -> None:
    assert size_class(29_298, m50_member=True, band=BAND) == "middelgroot"


def test_non_member_of_120_thousand_is_groot() -> None:
    assert size_class(120_000, m50_member=False, band=BAND) == "groot"


@pytest.mark.parametrize(("inhabitants", "expected"), [
    (39_999, "klein"), (40_000, "middelgroot"), (100_000, "middelgroot"), (100_001, "groot"),
])
def test_band_edges_are_inclusive(inhabitants: int, expected: str) -> None:
    assert size_class(inhabitants, m50_member=False, band=BAND) == expected


def test_shipped_data_lists_every_municipality_of_2023_and_classifies_them() -> None:
    register = load_municipalities(RegistrationConfig())
    assert len(register) == 342
    wassenaar = register.get("GM0629")
    assert wassenaar is not None and wassenaar.m50_member and wassenaar.inhabitants < 40_000
    assert wassenaar.size_class == "middelgroot"
    assert register.get("GM0344").size_class == "groot"  # Utrecht
    assert register.get("GM1680").size_class == "klein"  # Aa en Hunze


def test_data_files_ship_inside_the_package() -> None:
    data = files("services.registration") / "data"
    assert (data / "gemeenten.csv").is_file() and (data / "m50-leden-2023.csv").is_file()
    assert MUNICIPALITIES_FILE.is_file() and M50_FILE.is_file()


def test_band_and_member_list_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    members = tmp_path / "m50.csv"
    members.write_text("gm_code,naam\nGM0344,Utrecht\n", encoding="utf-8")
    monkeypatch.setenv("REGISTRATION_MIDSIZE_MIN", "20000")
    monkeypatch.setenv("REGISTRATION_MIDSIZE_MAX", "27000")
    monkeypatch.setenv("REGISTRATION_M50_FILE", str(members))
    register = load_municipalities(load_config())
    assert register.get("GM0344").size_class == "middelgroot"  # now a member
    assert register.get("GM1680").size_class == "middelgroot"  # 26,057 inhabitants, inside the new band
    assert register.get("GM0629").size_class == "groot"  # 27,975 and no longer listed as a member


def test_an_inverted_band_stops_the_service_with_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRATION_MIDSIZE_MIN", "100001")
    with pytest.raises(SettingsError, match="REGISTRATION_MIDSIZE_MIN"):
        load_config()


def test_a_missing_member_list_names_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRATION_M50_FILE", "/nonexistent/m50.csv")
    with pytest.raises(SettingsError, match="REGISTRATION_M50_FILE"):
        load_config()
