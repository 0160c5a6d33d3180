"""The municipality files: CBS's municipalities and the configured M50 member list."""

from __future__ import annotations

import csv
from pathlib import Path

from shared.municipalities import Municipality
from shared.settings import SettingsError

from ..config import MUNICIPALITIES_FILE, RegistrationConfig
from ..domain import MunicipalityRegister


def load_municipalities(config: RegistrationConfig, path: Path = MUNICIPALITIES_FILE) -> MunicipalityRegister:
    """The CBS municipalities, classified with the configured band and M50 member list."""
    m50 = _read_codes(config.m50_file)
    with path.open(encoding="utf-8", newline="") as f:
        return MunicipalityRegister(
            Municipality.classified(
                row["gm_code"], row["naam"], row["provincie"], int(row["inwoners"]), row["gm_code"] in m50, config.band
            )
            for row in csv.DictReader(f)
        )


def _read_codes(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if "gm_code" not in (reader.fieldnames or []):
            raise SettingsError(f"REGISTRATION_M50_FILE: {path} has no gm_code column")
        return {row["gm_code"].strip() for row in reader}
