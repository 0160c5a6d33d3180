"""Settings every service reads from the environment; a wrong value stops the service with one clear line."""

from __future__ import annotations

import hmac
import ipaddress
import math
from collections import Counter
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["registration", "scheduling", "notifications", "reporting"]
SERVICES: tuple[ServiceName, ...] = ("registration", "scheduling", "notifications", "reporting")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated IP addresses and CIDR ranges; ValueError naming the entry that is neither."""
    networks = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return tuple(networks)


class SettingsError(SystemExit):
    """Raised at start-up; its message names the offending variable."""


# Development values, so `werkplaatsen dev` and the tests run without configuration. Production refuses them.
DEV_SECRET_KEY = "dev-secret-change-me"  # nosec B105  # a published development value, refused in production
DEV_ORGANIZER_TOKEN = "dev-organizer-token"  # nosec B105  # likewise
# Placeholders that deployment templates ship (deploy/k8s) and that must be replaced before going live.
PLACEHOLDERS = ("change-me", "changeme", "change_me")
# Values this repository has published as examples or fallbacks (deploy/compose.yaml before it required its
# secrets, the docs): anyone can read them, so production refuses them whatever their length.
PUBLISHED_SECRETS = frozenset(
    {
        DEV_SECRET_KEY,
        DEV_ORGANIZER_TOKEN,
        "compose-secret-not-for-production",
        "compose-organizer-token",
        "a-long-random-secret-from-the-vault",
    }
)
# What production asks of a secret: `secrets.token_urlsafe(32)` (43 characters, about 190 estimated bits) passes,
# and so does `secrets.token_hex(16)`. The estimate (Shannon entropy of the value's own characters times its length)
# catches repetition and a small alphabet; it cannot tell words from randomness, which the length and the
# published values above are for.
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100
MIN_SECRET_BITS_PER_CHARACTER = 3.0
SECRET_ADVICE = 'e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"'  # nosec B105  # advice, no secret


def estimated_bits(value: str) -> float:
    """Shannon entropy of the characters of `value`, times its length."""
    counts = Counter(value)
    return -sum(n * math.log2(n / len(value)) for n in counts.values())


def secret_problem(value: str) -> str | None:
    """Why `value` is not good enough as a production secret, or None."""
    if not value.strip() or any(p in value.lower() for p in PLACEHOLDERS):
        return "still the placeholder of the deployment template; set a secret value"
    if value in PUBLISHED_SECRETS:
        return "a value published in this repository's examples; set a secret value of your own"
    if len(value) < MIN_SECRET_LENGTH:
        return f"too short ({len(value)} characters, at least {MIN_SECRET_LENGTH}); {SECRET_ADVICE}"
    bits = estimated_bits(value)
    if bits < MIN_SECRET_BITS or bits / len(value) < MIN_SECRET_BITS_PER_CHARACTER:
        return f"too predictable (repeated or too few different characters); {SECRET_ADVICE}"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    werkplaatsen_broker_url: str | None = Field(default=None, description="amqp://...; unset = in-process broker")
    werkplaatsen_data_dir: Path = Path("var")
    registration_database_url: str | None = None
    scheduling_database_url: str | None = None
    notifications_database_url: str | None = None
    reporting_database_url: str | None = None
    # The organiser console's own store (frontends/console): accounts, access tokens, audit log.
    console_database_url: str | None = None
    # Where the console reads each service's API (`werkplaatsen console`); unset: WERKPLAATSEN_PUBLIC_URL, where a
    # single ingress serves them all.
    console_registration_url: str | None = None
    console_scheduling_url: str | None = None
    console_notifications_url: str | None = None
    console_reporting_url: str | None = None
    # The broker users the organiser console publishes as (comma-separated). When set, the services accept a
    # command with an `actor` only from them (RabbitMQ validates the AMQP user_id); docs/operations.md.
    werkplaatsen_console_broker_users: str = ""
    # The console's OpenID Connect sign-in (docs/console.md): off while the issuer is unset. The client id and secret
    # are validated even when unset (validate_default), so an issuer without them stops the console at start.
    console_oidc_issuer: str | None = None
    console_oidc_client_id: str | None = Field(default=None, validate_default=True)
    console_oidc_client_secret: SecretStr | None = Field(default=None, validate_default=True)
    console_oidc_name: str = Field(default="je organisatieaccount", min_length=1, max_length=60)
    werkplaatsen_smtp_url: str | None = None
    werkplaatsen_mail_from: str = "Werkplaatsen wijkgericht werken <werkplaatsen@platform31.nl>"
    werkplaatsen_public_url: str = "http://localhost:8000"
    werkplaatsen_secret_key: str = DEV_SECRET_KEY
    # Keys the secret key replaced, comma-separated, newest last: links and cookies signed with them still open
    # (until their own expiry); nothing new is signed with them. Drop a key once its links have expired.
    werkplaatsen_secret_key_previous: str = ""
    werkplaatsen_organizer_token: str = DEV_ORGANIZER_TOKEN
    werkplaatsen_organizer_email: str = "werkplaatsen@platform31.nl"
    werkplaatsen_log_format: Literal["auto", "json", "console"] = "auto"
    # Requests per minute (and at once) one client may make to the public registration, approval and status
    # endpoints and the organiser login (shared/http.py RATE_LIMITED); 0 turns the limit off.
    werkplaatsen_rate_limit_per_minute: int = Field(default=60, ge=0)
    werkplaatsen_rate_limit_burst: int = Field(default=20, ge=1)
    werkplaatsen_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body.")
    # The reverse proxies (gateway, ingress controller) whose X-Forwarded-For and X-Forwarded-Proto are believed:
    # comma-separated IP addresses or CIDR ranges. Empty: the connection's peer is the client (shared/http.py).
    werkplaatsen_trusted_proxies: str = ""

    @field_validator("werkplaatsen_broker_url")
    @classmethod
    def _amqp(cls, value: str | None) -> str | None:
        if value and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value or None

    @field_validator(
        "registration_database_url",
        "scheduling_database_url",
        "notifications_database_url",
        "reporting_database_url",
        "console_database_url",
    )
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value or None

    @field_validator("console_oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        # Plain http only on the machine itself (a provider in development or the tests): elsewhere the tokens and
        # the client secret would cross the network readable.
        parts = urlsplit(value or "")
        local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
        if value and not ((parts.scheme == "https" and parts.hostname) or local):
            raise ValueError("must be an https:// URL (http only for localhost)")
        return value or None

    @field_validator("console_oidc_client_id", "console_oidc_client_secret")
    @classmethod
    def _oidc_client(cls, value: str | SecretStr | None, info: ValidationInfo) -> str | SecretStr | None:
        empty = not value or (isinstance(value, SecretStr) and not value.get_secret_value())
        if empty and info.data.get("console_oidc_issuer"):
            raise ValueError("required when CONSOLE_OIDC_ISSUER is set")
        return None if empty else value

    @field_validator("werkplaatsen_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("werkplaatsen_smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must look like smtp://host:port")
        return value or None

    def database_url(self, service: ServiceName | Literal["console"]) -> str:
        explicit: str | None = getattr(self, f"{service}_database_url")
        if explicit:
            return explicit
        return f"sqlite+aiosqlite:///{self.werkplaatsen_data_dir / service}.sqlite3"

    @property
    def console_publishers(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.werkplaatsen_console_broker_users.split(",") if u.strip())

    def console_service_url(self, service: ServiceName) -> str:
        explicit: str | None = getattr(self, f"console_{service}_url")
        return (explicit or self.werkplaatsen_public_url).rstrip("/")

    @property
    def secret_keys(self) -> list[str]:
        """Every key a signed link may carry, oldest first and the current one last: itsdangerous signs with the
        last and verifies with each (shared/links.py)."""
        previous = [k.strip() for k in self.werkplaatsen_secret_key_previous.split(",") if k.strip()]
        return [k for k in previous if k != self.werkplaatsen_secret_key] + [self.werkplaatsen_secret_key]

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.werkplaatsen_trusted_proxies)

    @property
    def public_url(self) -> str:
        return self.werkplaatsen_public_url.rstrip("/")

    def require_production(self) -> None:
        """Production (`werkplaatsen run`, `werkplaatsen console`) refuses the development defaults, template
        placeholders, published example values and short or predictable secrets, naming the setting; and one value
        used for both (whoever learns the organiser token could then forge links)."""
        previous = self.secret_keys[:-1]
        for name, value, default in (
            ("WERKPLAATSEN_SECRET_KEY", self.werkplaatsen_secret_key, DEV_SECRET_KEY),
            ("WERKPLAATSEN_ORGANIZER_TOKEN", self.werkplaatsen_organizer_token, DEV_ORGANIZER_TOKEN),
            *(("WERKPLAATSEN_SECRET_KEY_PREVIOUS", key, None) for key in previous),
        ):
            if value == default:
                raise SettingsError(f"{name}: not set (required for `werkplaatsen run`)")
            problem = secret_problem(value)
            if problem:
                raise SettingsError(f"{name}: {problem}")
        token = self.werkplaatsen_organizer_token.encode()
        if any(hmac.compare_digest(key.encode(), token) for key in self.secret_keys):
            raise SettingsError("WERKPLAATSEN_ORGANIZER_TOKEN: must differ from WERKPLAATSEN_SECRET_KEY")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper()
        raise SettingsError(f"{name}: {first['msg']}") from None
