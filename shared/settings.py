"""Settings every service reads from the environment; a wrong value stops the service with one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["registration", "scheduling", "notifications", "reporting"]
SERVICES: tuple[ServiceName, ...] = ("registration", "scheduling", "notifications", "reporting")


class SettingsError(SystemExit):
    """Raised at start-up; its message names the offending variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    werkplaatsen_broker_url: str | None = Field(default=None, description="amqp://...; unset = in-process broker")
    werkplaatsen_data_dir: Path = Path("var")
    registration_database_url: str | None = None
    scheduling_database_url: str | None = None
    notifications_database_url: str | None = None
    reporting_database_url: str | None = None
    werkplaatsen_smtp_url: str | None = None
    werkplaatsen_mail_from: str = "Werkplaatsen wijkgericht werken <werkplaatsen@platform31.nl>"
    werkplaatsen_public_url: str = "http://localhost:8000"
    werkplaatsen_secret_key: str = "dev-secret-change-me"
    werkplaatsen_organizer_token: str = "dev-organizer-token"
    werkplaatsen_organizer_email: str = "werkplaatsen@platform31.nl"
    werkplaatsen_log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("werkplaatsen_broker_url")
    @classmethod
    def _amqp(cls, value: str | None) -> str | None:
        if value and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value or None

    @field_validator(
        "registration_database_url", "scheduling_database_url", "notifications_database_url", "reporting_database_url"
    )
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value or None

    @field_validator("werkplaatsen_smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must look like smtp://host:port")
        return value or None

    def database_url(self, service: ServiceName) -> str:
        explicit = getattr(self, f"{service}_database_url")
        if explicit:
            return explicit
        return f"sqlite+aiosqlite:///{self.werkplaatsen_data_dir / service}.sqlite3"

    @property
    def public_url(self) -> str:
        return self.werkplaatsen_public_url.rstrip("/")

    def require_production(self) -> None:
        """Production (`werkplaatsen run`) refuses the development defaults for secrets."""
        if self.werkplaatsen_secret_key == "dev-secret-change-me":
            raise SettingsError("WERKPLAATSEN_SECRET_KEY: not set (required for `werkplaatsen run`)")
        if self.werkplaatsen_organizer_token == "dev-organizer-token":
            raise SettingsError("WERKPLAATSEN_ORGANIZER_TOKEN: not set (required for `werkplaatsen run`)")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper()
        raise SettingsError(f"{name}: {first['msg']}") from None
