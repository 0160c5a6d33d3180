"""Notifications' own settings: when reminders go out."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import SettingsError

from .domain import parse_offsets


class NotificationsConfig(BaseSettings):
    # extra="ignore": NOTIFICATIONS_DATABASE_URL shares the prefix and belongs to shared.settings.
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", case_sensitive=False)

    reminder_offsets: str = Field(
        default="7d,1d", description="How long before each session reminders go out: durations like 7d, 1d, 2h, 30s."
    )

    smtp_concurrency: int = Field(default=8, ge=1, le=64, description="SMTP conversations in flight per replica.")

    @field_validator("reminder_offsets")
    @classmethod
    def _durations(cls, value: str) -> str:
        parse_offsets(value)
        return value

    @property
    def offsets(self) -> list[tuple[str, timedelta]]:
        return parse_offsets(self.reminder_offsets)


def load_config() -> NotificationsConfig:
    try:
        return NotificationsConfig()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "REMINDER_OFFSETS"
        raise SettingsError(f"NOTIFICATIONS_{name}: {first['msg']}") from None
