"""The events scheduling announces, made from its domain objects."""

from __future__ import annotations

from collections.abc import Sequence

from shared.contract.scheduling import (
    Capacity,
    EditionFee,
    EditionScheduled,
    PlaceReleased,
    SessionPlan,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
    Venue,
)

from ..domain import Edition, Outcome, Placed, Released, Session, Waitlisted
from .ports import Emit


def edition_scheduled(edition: Edition) -> EditionScheduled:
    return EditionScheduled(
        edition=edition.slug,
        title=edition.title,
        venue=Venue.model_validate(edition.venue),
        capacity=Capacity(min_trios=edition.min_trios, max_trios=edition.max_trios),
        registration_deadline=edition.registration_deadline,
        registration_closes_at=edition.registration_closes_at,
        fee=EditionFee.model_validate(edition.fee),
        priority_size_classes=edition.priority_size_classes,
        table_size=edition.table_size,
        sessions=[
            SessionPlan(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at, ends_at=s.ends_at)
            for s in edition.sessions
        ],
        publish_reports_at_once=edition.publish_reports_at_once,
    )


def session_rescheduled(edition: Edition, old: Session, new: Session) -> SessionRescheduled:
    return SessionRescheduled(
        edition=edition.slug,
        session_number=new.number,
        starts_at=new.starts_at,
        ends_at=new.ends_at,
        sequence=new.sequence,
        previous_starts_at=old.starts_at,
        previous_ends_at=old.ends_at,
    )


def emit_outcomes(edition: Edition, outcomes: Sequence[Outcome], emit: Emit) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Placed):
            emit(
                TrioPlaced(
                    registration_id=outcome.registration_id,
                    edition=edition.slug,
                    via=outcome.via,
                    reason=outcome.reason,
                )
            )
        elif isinstance(outcome, Waitlisted):
            emit(
                TrioWaitlisted(
                    registration_id=outcome.registration_id,
                    edition=edition.slug,
                    position=outcome.position,
                    previous_position=outcome.previous_position,
                    reason=outcome.reason,
                )
            )
        elif isinstance(outcome, Released):
            emit(PlaceReleased(registration_id=outcome.registration_id, edition=edition.slug, reason=outcome.reason))
