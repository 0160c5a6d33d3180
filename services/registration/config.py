"""Registration's own settings: what counts as a medium-sized municipality is configuration, not code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, FilePath, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.municipalities import SizeBand
from shared.settings import SettingsError

from .approval_limits import ApprovalLimits
from .billing import Seller, VatRule

DATA_DIR = Path(__file__).parent / "data"
MUNICIPALITIES_FILE = DATA_DIR / "gemeenten.csv"
M50_FILE = DATA_DIR / "m50-leden-2023.csv"
# Development stand-ins for Platform31's registrations: well-formed (the IBAN's check digits are right, the VAT number
# is the tax authority's documented example) but not real. A deployment with an https public URL refuses them.
DEV_KVK = "12345678"
DEV_VAT_NUMBER = "NL000099998B57"
DEV_IBAN = "NL91ABNA0417164300"


class RegistrationConfig(BaseSettings):
    # extra="ignore": REGISTRATION_DATABASE_URL shares the prefix and belongs to shared.settings.
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore", case_sensitive=False)

    midsize_min: int = Field(default=40_000, ge=0, description="Fewest inhabitants of a middelgroot municipality.")
    midsize_max: int = Field(default=100_000, ge=0, description="Most inhabitants of a middelgroot municipality.")
    m50_file: FilePath = Field(default=M50_FILE, description="CSV of M50 members with a gm_code column.")
    approval_days: float = Field(default=14, gt=0, description="How long an approval link stays valid.")
    approval_requests_per_approver_per_day: int = Field(
        default=5,
        ge=1,
        description="Approval requests mailed to one approver address in a day; more are held for an organiser.",
    )
    approval_requests_per_client_per_day: int = Field(
        default=10,
        ge=1,
        description="Approval requests mailed for registrations from one client (HTTP address, chat) in a day.",
    )
    retention_days: float = Field(
        default=365, ge=0, description="Personal data is erased this long after an edition's last session."
    )
    retention_check_seconds: float = Field(
        default=3600, gt=0, description="How often registrations past their retention period are looked for."
    )

    # Invoicing (docs/invoicing.md)
    payment_term_days: float = Field(default=30, gt=0, description="Days between an invoice and its due moment.")
    overdue_check_seconds: float = Field(default=900, gt=0, description="How often overdue invoices are looked for.")
    vat_rate: Decimal = Field(default=Decimal(21), ge=0, le=100, description="VAT percentage on the fee.")
    vat_exemption: str | None = Field(
        default=None, max_length=300, description="Reason the fee is exempt from VAT; set: category E, 0%."
    )
    invoice_prefix: str = Field(default="WP", pattern=r"^[A-Z0-9-]{1,10}$")
    credit_note_prefix: str = Field(default="WP-C", pattern=r"^[A-Z0-9-]{1,10}$")
    seller_name: str = Field(default="Platform31", min_length=1, max_length=200)
    seller_street: str = Field(default="Koninginnegracht 19", min_length=1, max_length=200)
    seller_postcode: str = Field(default="2514 AB", pattern=r"^\d{4} ?[A-Z]{2}$")
    seller_city: str = Field(default="Den Haag", min_length=1, max_length=100)
    seller_kvk: str = Field(default=DEV_KVK, pattern=r"^\d{8}$", description="Chamber of Commerce number.")
    seller_vat_number: str = Field(default=DEV_VAT_NUMBER, pattern=r"^NL\d{9}B\d{2}$")
    seller_iban: str = Field(default=DEV_IBAN, pattern=r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
    seller_email: str = Field(default="werkplaatsen@platform31.nl", pattern=r"^[^@\s]+@[^@\s]+$")

    @model_validator(mode="after")
    def _band_in_order(self) -> RegistrationConfig:
        if self.midsize_min > self.midsize_max:
            raise ValueError("REGISTRATION_MIDSIZE_MIN is larger than REGISTRATION_MIDSIZE_MAX")
        return self

    @property
    def seller(self) -> Seller:
        return Seller(
            name=self.seller_name,
            street=self.seller_street,
            postcode=self.seller_postcode,
            city=self.seller_city,
            kvk=self.seller_kvk,
            vat_number=self.seller_vat_number,
            iban=self.seller_iban,
            email=self.seller_email,
        )

    @property
    def vat(self) -> VatRule:
        return VatRule(rate=self.vat_rate, exemption_reason=self.vat_exemption or None)

    @property
    def payment_term(self) -> timedelta:
        return timedelta(days=self.payment_term_days)

    def require_real_seller(self, public_url: str) -> None:
        """A deployment reachable over https sends real invoices: the development stand-ins must be replaced."""
        if urlsplit(public_url).scheme != "https":
            return
        for name, stand_in in (("kvk", DEV_KVK), ("vat_number", DEV_VAT_NUMBER), ("iban", DEV_IBAN)):
            if getattr(self, f"seller_{name}") == stand_in:
                raise SettingsError(
                    f"REGISTRATION_SELLER_{name.upper()}: not set (required when "
                    "WERKPLAATSEN_PUBLIC_URL is https: invoices carry it)"
                )

    @property
    def band(self) -> SizeBand:
        return SizeBand(self.midsize_min, self.midsize_max)

    @property
    def approval_validity(self) -> timedelta:
        return timedelta(days=self.approval_days)

    @property
    def approval_limits(self) -> ApprovalLimits:
        return ApprovalLimits(self.approval_requests_per_approver_per_day, self.approval_requests_per_client_per_day)

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
