"""The bot's settings, from the environment; a wrong or missing value stops it at start with one line naming it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.municipalities import SizeBand
from shared.settings import SettingsError

# Registration's municipality files (services/registration/data), read as files: the bot imports no service code.
MUNICIPALITY_DATA = Path(__file__).resolve().parents[2] / "services" / "registration" / "data"
MUNICIPALITIES_FILE = MUNICIPALITY_DATA / "gemeenten.csv"
M50_FILE = MUNICIPALITY_DATA / "m50-leden-2023.csv"


class ChatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    werkplaatsen_chat_homeserver: str = Field(description="Base URL of the homeserver, e.g. https://matrix.example.org")
    werkplaatsen_chat_user: str = Field(description="The bot's Matrix user, e.g. @werkplaatsen:example.org")
    werkplaatsen_chat_password: SecretStr | None = None
    werkplaatsen_chat_access_token: SecretStr | None = None
    werkplaatsen_chat_device_id: str | None = Field(default=None, description="With an access token: its device")
    werkplaatsen_chat_store: Path = Field(default=Path("var/chat.sqlite3"), description="The bot's SQLite file")
    werkplaatsen_chat_queue: str = Field(default="werkplaatsen.chat", description="The bot's own RabbitMQ queue")
    werkplaatsen_broker_url: str
    werkplaatsen_public_url: str = "http://localhost:8000"
    werkplaatsen_secret_key: SecretStr = SecretStr("dev-secret-change-me")
    # As the services read it (shared/settings.py): keys replaced by a rotation, comma-separated, whose codes and
    # links still open until their own expiry.
    werkplaatsen_secret_key_previous: SecretStr = SecretStr("")
    werkplaatsen_log_format: str = "auto"
    # The municipalities' size classes (whether a fee is due): registration's own variables, so the bot asks for
    # invoice details exactly when registration will want them.
    registration_midsize_min: int = Field(default=40_000, ge=0, description="Fewest inhabitants of a middelgroot")
    registration_midsize_max: int = Field(default=100_000, ge=0, description="Most inhabitants of a middelgroot")
    registration_m50_file: FilePath = Field(default=M50_FILE, description="CSV of M50 members with a gm_code column.")

    @property
    def secret_keys(self) -> list[str]:
        """Every key a code or link may carry, oldest first and the current one last (shared/links.py)."""
        current = self.werkplaatsen_secret_key.get_secret_value()
        previous = [k.strip() for k in self.werkplaatsen_secret_key_previous.get_secret_value().split(",")]
        return [k for k in previous if k and k != current] + [current]

    @field_validator("werkplaatsen_chat_homeserver")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("werkplaatsen_broker_url")
    @classmethod
    def _amqp(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value

    @model_validator(mode="after")
    def _credential(self) -> ChatSettings:
        if self.werkplaatsen_chat_password is None and self.werkplaatsen_chat_access_token is None:
            raise ValueError("WERKPLAATSEN_CHAT_PASSWORD or WERKPLAATSEN_CHAT_ACCESS_TOKEN: one of them is needed")
        return self

    @model_validator(mode="after")
    def _band_in_order(self) -> ChatSettings:
        if self.registration_midsize_min > self.registration_midsize_max:
            raise ValueError("REGISTRATION_MIDSIZE_MIN is larger than REGISTRATION_MIDSIZE_MAX")
        return self

    @property
    def band(self) -> SizeBand:
        return SizeBand(self.registration_midsize_min, self.registration_midsize_max)

    @property
    def store_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.werkplaatsen_chat_store}"

    @property
    def public_url(self) -> str:
        return self.werkplaatsen_public_url.rstrip("/")


def load_chat_settings() -> ChatSettings:
    try:
        return ChatSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["loc"]:
            raise SettingsError(f"{str(first['loc'][0]).upper()}: {first['msg']}") from None
        raise SettingsError(str(first["msg"]).removeprefix("Value error, ")) from None
