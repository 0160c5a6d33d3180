"""Registration's own settings: what counts as a medium-sized municipality is configuration, not code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, FilePath, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import SettingsError

from .domain import SizeBand

DATA_DIR = Path(__file__).parent / "data"
MUNICIPALITIES_FILE = DATA_DIR / "gemeenten.csv"
M50_FILE = DATA_DIR / "m50-leden-2023.csv"


class RegistrationConfig(BaseSettings):
    # extra="ignore": REGISTRATION_DATABASE_URL shares the prefix and belongs to shared.settings.
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore", case_sensitive=False)

    midsize_min: int = Field(default=40_000, ge=0, description="Fewest inhabitants of a middelgroot municipality.")
    midsize_max: int = Field(default=100_000, ge=0, description="Most inhabitants of a middelgroot municipality.")
    m50_file: FilePath = Field(default=M50_FILE, description="CSV of M50 members with a gm_code column.")
    approval_days: float = Field(default=14, gt=0, description="How long an approval link stays valid.")
    retention_days: float = Field(default=365, ge=0,
                                  description="Personal data is erased this long after an edition's last session.")

    @model_validator(mode="after")
    def _band_in_order(self) -> RegistrationConfig:
        if self.midsize_min > self.midsize_max:
            raise ValueError("REGISTRATION_MIDSIZE_MIN is larger than REGISTRATION_MIDSIZE_MAX")
        return self

    @property
    def band(self) -> SizeBand:
        return SizeBand(self.midsize_min, self.midsize_max)

    @property
    def approval_validity(self) -> timedelta:
        return timedelta(days=self.approval_days)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)


def load_config() -> RegistrationConfig:
    try:
        return RegistrationConfig()
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["loc"]:
            raise SettingsError(f"REGISTRATION_{str(first['loc'][0]).upper()}: {first['msg']}") from None
        raise SettingsError(str(first["ctx"]["error"])) from None
