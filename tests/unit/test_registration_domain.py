"""Registration's municipality classification and its configuration."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from services.registration.adapters import load_municipalities
from services.registration.config import M50_FILE, MUNICIPALITIES_FILE, RegistrationConfig, load_config
from services.registration.domain import ERASED, erased_event_data, refine_intake_errors
from shared.contract import ErrorItem
from shared.municipalities import SizeBand, size_class
from shared.settings import SettingsError

BAND = SizeBand(40_000, 100_000)


def test_m50_member_below_the_band_is_middelgroot() -> None:
    assert size_class(29_298, m50_member=True, band=BAND) == "middelgroot"


def test_non_member_of_120_thousand_is_groot() -> None:
    assert size_class(120_000, m50_member=False, band=BAND) == "groot"


@pytest.mark.parametrize(
    ("inhabitants", "expected"),
    [(39_999, "klein"), (40_000, "middelgroot"), (100_000, "middelgroot"), (100_001, "groot")],
)
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


# Schema errors that break an intake rule get the rule's code


def schema(field: str) -> ErrorItem:
    return ErrorItem(field=field, code="schema", message="Deze waarde is ongeldig.")


@pytest.mark.parametrize("count", [0, 2, 4])
def test_a_trio_of_other_than_three_members_is_trio_size(count: int) -> None:
    payload = {"members": [{"name": "x"}] * count}
    (refined,) = refine_intake_errors([schema("members")], payload)
    assert (refined.field, refined.code) == ("members", "trio_size")
    assert "precies drie" in refined.message


def test_members_that_are_not_a_list_stay_a_schema_error() -> None:
    assert refine_intake_errors([schema("members")], {"members": "drie"})[0].code == "schema"


def test_a_missing_or_empty_case_text_is_case_incomplete() -> None:
    payload = {"case": {"title": None, "summary": "  ", "neighbourhood": 7}}
    refined = refine_intake_errors(
        [schema("case.title"), schema("case.summary"), schema("case.neighbourhood")], payload
    )
    assert [(e.field, e.code) for e in refined] == [
        ("case.title", "case_incomplete"),
        ("case.summary", "case_incomplete"),
        ("case.neighbourhood", "schema"),
    ]


def test_a_missing_case_object_stays_a_schema_error() -> None:
    assert refine_intake_errors([schema("case")], {})[0].code == "schema"


def test_an_overlong_case_title_stays_a_schema_error() -> None:
    too_long = ErrorItem(field="case.title", code="schema", message="Deze tekst is te lang (hoogstens 200 tekens).")
    assert refine_intake_errors([too_long], {"case": {"title": "x" * 201}}) == [too_long]


# Erasure of messages still in the outbox


def test_a_queued_trio_registered_keeps_its_statistics_but_loses_names_addresses_and_case_text() -> None:
    data = {
        "registration_id": "r",
        "members": [{"name": "Anna", "email": "anna@x.nl", "role": "wijkambtenaar", "domain": "sociaal"}],
        "case": {"title": "T", "neighbourhood": "N", "summary": "S", "domains": ["fysiek", "sociaal"]},
        "chat_id": "room",
        "municipality": {"code": "GM0203"},
    }
    erased = erased_event_data("TrioRegistered", data)
    assert erased == {
        "registration_id": "r",
        "members": [{"name": ERASED, "email": ERASED, "role": "wijkambtenaar", "domain": "sociaal"}],
        "case": {"title": ERASED, "neighbourhood": ERASED, "summary": ERASED, "domains": ["fysiek", "sociaal"]},
        "chat_id": None,
        "municipality": {"code": "GM0203"},
    }


def test_a_queued_approval_request_is_dropped_and_reasons_are_erased() -> None:
    assert erased_event_data("ApprovalRequested", {"registration_id": "r"}) is None
    assert erased_event_data("RegistrationDeclined", {"reason": "Jan is ziek"})["reason"] == ERASED


def test_approval_validity_and_retention_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (RegistrationConfig().approval_days, RegistrationConfig().retention_days) == (14, 365)
    monkeypatch.setenv("REGISTRATION_APPROVAL_DAYS", "7")
    monkeypatch.setenv("REGISTRATION_RETENTION_DAYS", "30")
    config = load_config()
    assert (config.approval_validity, config.retention) == (timedelta(days=7), timedelta(days=30))


def test_an_approval_validity_of_zero_days_stops_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRATION_APPROVAL_DAYS", "0")
    with pytest.raises(SettingsError, match="REGISTRATION_APPROVAL_DAYS"):
        load_config()
