"""What a notification says: the texts of fees, sessions and venues, and the context each mail's templates get."""

from __future__ import annotations

from typing import Any

from shared.contract.registration import ApprovalRequested, Fee, RegisteredMember, TrioRegistered
from shared.formatting import clock_text, day_text, moment_text

from .domain import EditionInfo, SessionInfo

SIZE_CLASS_NAMES = {
    "nl": {"klein": "kleine gemeente", "middelgroot": "middelgrote gemeente", "groot": "grote gemeente"},
    "en": {"klein": "small municipality", "middelgroot": "medium-sized municipality", "groot": "large municipality"},
}
ROLE_NAMES = {
    "nl": {"wijkambtenaar": "wijkambtenaar", "sectorambtenaar": "sectorambtenaar"},
    "en": {"wijkambtenaar": "neighbourhood official", "sectorambtenaar": "policy official"},
}
DOMAIN_NAMES = {
    "nl": {
        "fysiek": "fysiek domein",
        "sociaal": "sociaal domein",
        "veiligheid": "veiligheid",
        "economie": "economie",
        "bestuur": "bestuur",
        "overig": "overig",
    },
    "en": {
        "fysiek": "physical domain",
        "sociaal": "social domain",
        "veiligheid": "safety",
        "economie": "economy",
        "bestuur": "governance",
        "overig": "other",
    },
}


def fee_text(fee: Fee, language: str) -> str:
    """'200 euro', or 'kosteloos, middelgrote gemeente' when the fee is waived."""
    if fee.waived or fee.amount_cents == 0:
        free = "free of charge" if language == "en" else "kosteloos"
        reason = SIZE_CLASS_NAMES[language].get(fee.reason or "", fee.reason)
        return f"{free}, {reason}" if reason else free
    euros, cents = divmod(fee.amount_cents, 100)
    if cents:
        separator = "." if language == "en" else ","
        return f"{euros}{separator}{cents:02d} euro"
    return f"{euros} euro"


def fee_is_due(fee: Fee) -> bool:
    return not fee.waived and fee.amount_cents > 0


def session_text(session: SessionInfo, language: str) -> str:
    span = f"{clock_text(session.starts_at, language)}-{clock_text(session.ends_at, language)}"
    return f"{day_text(session.starts_at, language)}, {span}" + ("" if language == "en" else " uur")


def venue_text(venue: dict[str, str] | None, *, full: bool = True) -> str | None:
    """'Stadskantoor, Stadsplateau 1, Utrecht'; without the address when not `full`."""
    if not venue:
        return None
    parts = ("name", "address", "city") if full else ("name", "city")
    return ", ".join(v for v in (venue.get(p) for p in parts) if v) or None


def sessions_context(edition: EditionInfo | None, language: str) -> list[dict[str, Any]]:
    if edition is None:
        return []
    return [
        {"number": s.number, "title": s.title, "when": session_text(s, language), "outcome": s.outcome}
        for s in sorted(edition.sessions, key=lambda s: s.number)
    ]


def edition_context(slug: str, edition: EditionInfo | None, language: str) -> dict[str, Any]:
    return {
        "edition_slug": slug,
        "edition_title": edition.title if edition else None,
        "venue": venue_text(edition.venue, full=False) if edition else None,
        "venue_full": venue_text(edition.venue) if edition else None,
        "city": (edition.venue.get("city") if edition else None) or "Utrecht",
        "sessions": sessions_context(edition, language),
    }


def member_context(
    registration: TrioRegistered, member: RegisteredMember, edition: EditionInfo | None, language: str
) -> dict[str, Any]:
    """What every member mail can show: the member, the trio, the case, the fee and the edition."""
    return {
        "name": member.name,
        "others": [m.name for m in registration.members if m.member_id != member.member_id],
        "case_title": registration.case.title,
        "neighbourhood": registration.case.neighbourhood,
        "municipality": registration.municipality.name,
        "fee": fee_text(registration.fee, language),
        "fee_due": fee_is_due(registration.fee),
        "priority": registration.priority,
        "registration_id": registration.registration_id,
        **edition_context(registration.edition, edition, language),
    }


def acknowledgement_context(
    event: TrioRegistered,
    member: RegisteredMember,
    edition: EditionInfo | None,
    language: str,
    status_url: str | None = None,
    chat_code: str | None = None,
) -> dict[str, Any]:
    """Everything the acknowledgement templates show one member. An unknown edition is named by its slug."""
    return member_context(event, member, edition, language) | {
        "deadline": moment_text(edition.registration_deadline, language) if edition else None,
        "status_url": status_url,
        "chat_code": chat_code,
        "domain_mix": event.preferred_domain_mix,
    }


def approval_context(
    registration: TrioRegistered, approval: ApprovalRequested, edition: EditionInfo | None, language: str
) -> dict[str, Any]:
    """What the approver's mail says: fixed text with the municipality (registration took its name from the CBS
    list), the edition, the fee and the signed link. Nothing a registrant wrote (names, case, the approver's name)
    goes into it: otherwise anyone could mail their own text to any address by naming it as the approver. The
    approval page behind the link shows those details."""
    return {
        "municipality": registration.municipality.name,
        "fee": fee_text(registration.fee, language),
        "approve_url": approval.approve_url,
        "expires": moment_text(approval.expires_at, language),
        "registration_id": registration.registration_id,
        **edition_context(registration.edition, edition, language),
    }
