"""The one rule for a trio's status given the events seen so far (shared/placement.py), which registration, reporting
and the chat bot all follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.placement import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    STATUSES,
    Placement,
    Standing,
    Status,
    after_approval,
    after_ending,
    after_placement,
    after_registration,
)

T = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)
EARLIER, LATER = T - timedelta(minutes=1), T + timedelta(minutes=1)


def standing(status: Status | None, position: int | None = None, at: datetime | None = None) -> Standing[Status | None]:
    return Standing(status, position, at)


def test_every_status_is_either_active_or_final() -> None:
    assert set(ACTIVE_STATUSES) | set(FINAL_STATUSES) == set(STATUSES)
    assert not set(ACTIVE_STATUSES) & set(FINAL_STATUSES)


@pytest.mark.parametrize("final", FINAL_STATUSES)
@pytest.mark.parametrize("placement", ["placed", "waitlisted", "released"])
def test_a_declined_or_cancelled_trio_stays_so_whatever_scheduling_reports_later(
    final: Status, placement: Placement
) -> None:
    assert after_placement(standing(final), placement, LATER, 2) is None


@pytest.mark.parametrize("final", FINAL_STATUSES)
def test_a_declined_or_cancelled_trio_is_neither_approved_nor_ended_again(final: Status) -> None:
    assert after_approval(standing(final)) is None
    assert after_ending(standing(final), "cancelled") is None
    assert after_ending(standing(final), "declined") is None


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_cancelling_an_active_trio_ends_it_and_takes_it_off_the_waitlist(status: Status) -> None:
    assert after_ending(standing(status, 3, T), "cancelled") == Standing("cancelled", None, T)


def test_a_declined_trio_keeps_when_its_last_placement_event_happened() -> None:
    assert after_ending(standing("awaiting_approval", None, T), "declined") == Standing("declined", None, T)


def test_an_approval_moves_a_trio_awaiting_it() -> None:
    assert after_approval(standing("awaiting_approval")) == Standing("approved")


def test_an_approval_moves_a_trio_whose_status_is_not_known_yet() -> None:
    assert after_approval(standing(None)) == Standing("approved")


@pytest.mark.parametrize("status", ["approved", "placed", "waitlisted"])
def test_an_approval_arriving_after_the_trio_was_approved_or_placed_changes_nothing(status: Status) -> None:
    assert after_approval(standing(status, 1, T)) is None


def test_registration_starts_the_status_only_when_no_event_set_it_before() -> None:
    assert after_registration(standing(None)) == Standing("awaiting_approval")
    assert after_registration(standing("placed", None, T)) is None


@pytest.mark.parametrize("status", ["awaiting_approval", "approved", "waitlisted"])
def test_a_placed_trio_leaves_the_waitlist(status: Status) -> None:
    assert after_placement(standing(status, 4, EARLIER), "placed", T) == Standing("placed", None, T)


def test_a_waitlisted_trio_gets_its_position() -> None:
    assert after_placement(standing("approved"), "waitlisted", T, 2) == Standing("waitlisted", 2, T)


def test_a_new_waitlist_position_replaces_the_old_one() -> None:
    assert after_placement(standing("waitlisted", 3, EARLIER), "waitlisted", T, 2) == Standing("waitlisted", 2, T)


def test_a_waitlist_position_never_demotes_a_placed_trio() -> None:
    assert after_placement(standing("placed", None, EARLIER), "waitlisted", T, 1) is None


@pytest.mark.parametrize("placement", ["placed", "waitlisted", "released"])
def test_a_placement_event_older_than_the_last_one_applied_is_stale(placement: Placement) -> None:
    assert after_placement(standing("waitlisted", 2, T), placement, EARLIER, 3) is None


def test_a_placement_event_as_old_as_the_last_one_applied_still_counts() -> None:
    assert after_placement(standing("waitlisted", 2, T), "placed", T) == Standing("placed", None, T)


@pytest.mark.parametrize("status", ["placed", "waitlisted"])
def test_a_released_place_leaves_the_trio_approved_without_a_place(status: Status) -> None:
    assert after_placement(standing(status, 2, EARLIER), "released", T) == Standing("approved", None, T)


@pytest.mark.parametrize("status", ["awaiting_approval", "approved", None])
def test_a_released_place_of_a_trio_without_one_only_marks_the_event_as_seen(status: Status | None) -> None:
    assert after_placement(standing(status, None, EARLIER), "released", T) == Standing(status, None, T)


def test_a_placement_event_before_the_trio_is_known_sets_its_status() -> None:
    assert after_placement(standing(None), "waitlisted", T, 5) == Standing("waitlisted", 5, T)


def test_a_copy_that_stores_its_status_as_a_plain_string_follows_the_same_rule() -> None:
    stored: str = "placed"  # a copy's own column, e.g. the chat bot's
    assert after_placement(Standing(stored, None, EARLIER), "released", T) == Standing("approved", None, T)
