"""Registration use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.contract import EventData
from shared.contract.registration import MunicipalityInfo, RegisteredMember, RegisterTrio, TrioRegistered
from shared.contract.scheduling import EditionScheduled
from shared.messaging.messages import CommandRefused

from .domain import (
    Edition,
    Member,
    Municipality,
    Registration,
    fee_for,
    has_priority,
    intake_problems,
    preferred_domain_mix,
)

Emit = Callable[[EventData], object]


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    async def add(self, registration: Registration) -> None: ...
    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]: ...


class Municipalities(Protocol):
    def get(self, code: str) -> Municipality | None: ...


async def register_trio(cmd: RegisterTrio, *, editions: Editions, registrations: Registrations,
                        municipalities: Municipalities, emit: Emit, now: datetime) -> dict[str, str]:
    # Locked first: registrations of one edition then take turns, so the member check below is reliable.
    edition = await editions.get(cmd.edition, for_update=True)
    municipality = municipalities.get(cmd.municipality)
    emails = [str(m.email).lower() for m in cmd.members]
    taken = await registrations.active_member_emails(cmd.edition, emails) if edition else set()
    problems = intake_problems(cmd, edition=edition, municipality=municipality, registered_emails=taken, now=now)
    if problems:
        raise CommandRefused(problems)
    assert edition is not None and municipality is not None  # intake_problems reports both missing
    registration = new_registration(cmd, edition, municipality, now)
    await registrations.add(registration)
    emit(trio_registered(registration))
    return {"registration_id": registration.registration_id}


def new_registration(cmd: RegisterTrio, edition: Edition, municipality: Municipality, now: datetime) -> Registration:
    members = [
        Member(member_id=str(uuid.uuid4()), name=m.name, email=str(m.email).lower(), role=m.role, domain=m.domain,
               job_title=m.job_title, language=m.language)
        for m in cmd.members
    ]
    return Registration(
        registration_id=str(uuid.uuid4()), edition=edition.slug, municipality=municipality, members=members,
        case=cmd.case, approver=cmd.approver, consent=cmd.consent, invoice=cmd.invoice,
        fee=fee_for(edition, municipality.size_class), priority=has_priority(edition, municipality.size_class),
        preferred_domain_mix=preferred_domain_mix(m.domain for m in members), channel=cmd.channel,
        chat_id=cmd.chat_id, registered_at=now,
    )


def trio_registered(r: Registration) -> TrioRegistered:
    m = r.municipality
    return TrioRegistered(
        registration_id=r.registration_id, edition=r.edition, registered_at=r.registered_at,
        municipality=MunicipalityInfo(code=m.code, name=m.name, province=m.province, inhabitants=m.inhabitants,
                                      size_class=m.size_class, m50_member=m.m50_member),
        members=[RegisteredMember(member_id=p.member_id, name=p.name, email=p.email, role=p.role, domain=p.domain,
                                  language=p.language) for p in r.members],
        case=r.case, fee=r.fee, priority=r.priority, preferred_domain_mix=r.preferred_domain_mix,
        consent=r.consent, channel=r.channel, chat_id=r.chat_id,
    )


async def remember_edition(event: EditionScheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Keep registration's copy of an edition current (event-carried state)."""
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late (after a retry, or by another replica) changes nothing
    await editions.save(Edition(
        slug=event.edition, title=event.title, registration_closes_at=event.registration_closes_at,
        fee=event.fee.model_dump(mode="json"), priority_size_classes=list(event.priority_size_classes),
        sessions=[s.model_dump(mode="json") for s in event.sessions], scheduled_at=occurred_at,
    ))
