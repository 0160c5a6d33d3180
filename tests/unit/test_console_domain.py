"""The console's rules: who may do what, lockout with back-off, the organiser's second factor, email identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontends.console.domain import (
    ACTIONS,
    FIRST_LOCKOUT,
    LOCKOUT_THRESHOLD,
    LONGEST_LOCKOUT,
    InvalidEmail,
    Lockout,
    Principal,
    lockout_for,
    may,
    normalise_email,
    password_problem,
    requires_totp,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def organiser() -> Principal:
    return Principal("a1", "organiser", "active")


def facilitator(*editions: str) -> Principal:
    return Principal("a2", "facilitator", "active", frozenset(editions))


def viewer() -> Principal:
    return Principal("a3", "viewer", "active")


def test_an_organiser_may_do_everything() -> None:
    assert all(may(organiser(), action, "2027-voorjaar") for action in ACTIONS)
    assert all(may(organiser(), action) for action in ACTIONS)


def test_a_viewer_may_only_read() -> None:
    assert may(viewer(), "read")
    assert may(viewer(), "read", "2027-voorjaar")
    assert [action for action in ACTIONS if may(viewer(), action, "2027-voorjaar")] == ["read"]


def test_a_facilitator_records_attendance_and_notes_only_in_the_editions_assigned_to_them() -> None:
    them = facilitator("2027-voorjaar")
    assert may(them, "attendance.record", "2027-voorjaar")
    assert may(them, "notes.write", "2027-voorjaar")
    assert may(them, "read", "2027-voorjaar")
    assert not may(them, "attendance.record", "2027-najaar")
    assert not may(them, "notes.write", "2027-najaar")
    assert not may(them, "attendance.record")  # an action without an edition is outside every assignment


@pytest.mark.parametrize(
    "action", ["editions.write", "registrations.write", "reports.publish", "mail.send", "audit.read", "accounts.manage"]
)
def test_a_facilitator_may_not_do_an_organisers_work_even_in_their_own_edition(action: str) -> None:
    assert not may(facilitator("2027-voorjaar"), action, "2027-voorjaar")  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["invited", "disabled"])
def test_an_account_that_is_not_active_may_do_nothing(status: str) -> None:
    for role in ("organiser", "facilitator", "viewer"):
        principal = Principal("a", role, status, frozenset({"2027-voorjaar"}))  # type: ignore[arg-type]
        assert not any(may(principal, action, "2027-voorjaar") for action in ACTIONS)


def test_only_the_organiser_role_requires_a_second_factor() -> None:
    assert requires_totp("organiser")
    assert not requires_totp("facilitator")
    assert not requires_totp("viewer")


def test_the_first_failures_cost_nothing_then_each_locks_twice_as_long_up_to_the_cap() -> None:
    assert [lockout_for(n) for n in range(1, LOCKOUT_THRESHOLD)] == [None] * (LOCKOUT_THRESHOLD - 1)
    assert lockout_for(LOCKOUT_THRESHOLD) == FIRST_LOCKOUT == timedelta(minutes=1)
    assert lockout_for(LOCKOUT_THRESHOLD + 1) == timedelta(minutes=2)
    assert lockout_for(LOCKOUT_THRESHOLD + 2) == timedelta(minutes=4)
    assert lockout_for(LOCKOUT_THRESHOLD + 20) == LONGEST_LOCKOUT
    assert lockout_for(10_000) == LONGEST_LOCKOUT


def test_the_fifth_failure_in_a_row_locks_the_account_for_a_minute() -> None:
    lockout = Lockout()
    for _ in range(LOCKOUT_THRESHOLD - 1):
        lockout = lockout.after_failure(NOW)
        assert not lockout.locked_at(NOW)
    lockout = lockout.after_failure(NOW)
    assert lockout.failed_attempts == LOCKOUT_THRESHOLD
    assert lockout.locked_at(NOW + timedelta(seconds=59))
    assert not lockout.locked_at(NOW + FIRST_LOCKOUT)


def test_a_success_forgets_the_failures() -> None:
    lockout = Lockout(LOCKOUT_THRESHOLD + 3, NOW + timedelta(minutes=8)).after_success()
    assert lockout == Lockout(0, None)
    assert lockout.after_failure(NOW).locked_until is None


def test_an_email_address_is_one_account_whatever_its_case_or_surrounding_space() -> None:
    assert normalise_email("  Ann.de.Vries@Gemeente-Zwolle.NL ") == "ann.de.vries@gemeente-zwolle.nl"


@pytest.mark.parametrize("text", ["", "ann", "ann@", "@zwolle.nl", "ann@zwolle", "ann de vries@zwolle.nl", "a@b@c.nl"])
def test_text_that_is_no_email_address_is_refused(text: str) -> None:
    with pytest.raises(InvalidEmail):
        normalise_email(text)


def test_a_password_needs_twelve_characters_and_nothing_else() -> None:
    assert password_problem("kort") == "password_too_short"
    assert password_problem("elf tekens!") == "password_too_short"
    assert password_problem("twaalf tekens") is None
    assert password_problem("x" * 2000) == "password_too_long"
