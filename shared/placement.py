"""What a trio's status is, given the registration and scheduling events seen about it so far.

Registration keeps the status the trio sees; reporting and the chat bot keep copies of it from the same events.
All three follow this one rule, written on plain values so it knows nothing of their stores. Events may arrive
late, repeated or out of order, so:

- declined and cancelled are final: nothing reported afterwards brings the trio back;
- an approval moves only a trio still awaiting it (or whose status is not known yet): it may arrive after the
  trio was placed;
- a placement event older than the last one applied is stale and ignored (e.g. waitlist position 3 after 2);
- a waitlist position never demotes a placed trio: only a released place takes it away;
- a released place leaves the trio approved without a place (or still waiting for its approval decision).

Each function returns the trio's new standing, or None when the event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

Status = Literal["awaiting_approval", "approved", "declined", "placed", "waitlisted", "cancelled"]
STATUSES: tuple[Status, ...] = ("awaiting_approval", "approved", "declined", "placed", "waitlisted", "cancelled")
# Registrations that hold their members' places; declined and cancelled ones free them.
ACTIVE_STATUSES: tuple[Status, ...] = ("awaiting_approval", "approved", "placed", "waitlisted")
FINAL_STATUSES: tuple[Status, ...] = ("declined", "cancelled")

Ending = Literal["declined", "cancelled"]
# What scheduling says about a trio's place: TrioPlaced, TrioWaitlisted, PlaceReleased.
Placement = Literal["placed", "waitlisted", "released"]

# The status as a copy stores it: registration's own is a Status, a copy may hold any string or, in reporting's
# copy, None while only events that say nothing about the status have arrived.
S = TypeVar("S", bound="str | None")


@dataclass(frozen=True)
class Standing(Generic[S]):
    """Where a trio stands: its status, its waitlist position, and when the last placement event applied
    happened (None before any)."""

    status: S
    waitlist_position: int | None = None
    placement_at: datetime | None = None


def after_registration(standing: Standing[S]) -> Standing[S | Literal["awaiting_approval"]] | None:
    """TrioRegistered starts the status only when no later event has set it already."""
    if standing.status is not None:
        return None
    return Standing("awaiting_approval", standing.waitlist_position, standing.placement_at)


def after_approval(standing: Standing[S]) -> Standing[S | Literal["approved"]] | None:
    if standing.status not in (None, "awaiting_approval"):
        return None
    return Standing("approved", standing.waitlist_position, standing.placement_at)


def after_ending(standing: Standing[S], ending: Ending) -> Standing[S | Ending] | None:
    """RegistrationDeclined or RegistrationCancelled."""
    if standing.status in FINAL_STATUSES:
        return None
    return Standing(ending, None, standing.placement_at)


def after_placement(
    standing: Standing[S], placement: Placement, occurred_at: datetime, position: int | None = None
) -> Standing[S | Status] | None:
    """Scheduling's word on the trio's place; `position` is the waitlist position of a waitlisted trio."""
    if standing.status in FINAL_STATUSES:
        return None
    if standing.placement_at is not None and occurred_at < standing.placement_at:
        return None
    if placement == "waitlisted" and standing.status == "placed":
        return None
    status: S | Status = standing.status
    waitlist_position = standing.waitlist_position
    if placement == "placed":
        status, waitlist_position = "placed", None
    elif placement == "waitlisted":
        status, waitlist_position = "waitlisted", position
    elif standing.status in ("placed", "waitlisted"):
        status, waitlist_position = "approved", None
    return Standing(status, waitlist_position, occurred_at)
