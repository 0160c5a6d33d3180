"""The seating plan: tables of table_size trios, rotated so trios meet new trios, the same input the same plan."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scheduling.domain import Trio
from services.scheduling.seating import OpenTable, join_tables, plan_seating, repeated_pairs, table_sizes

T0 = datetime(2027, 9, 1, tzinfo=UTC)
SIZE_CLASSES = ["klein", "middelgroot", "groot"]
DOMAINS = ["fysiek", "sociaal", "veiligheid", "economie", "bestuur", "overig"]

trio = st.builds(
    lambda n, size_class, domains, municipality: Trio(
        registration_id=f"r{n:05d}",
        priority=size_class == "middelgroot",
        registered_at=T0,
        municipality=f"GM{municipality:04d}",
        size_class=size_class,
        domains=tuple(sorted(domains)),
    ),
    st.integers(0, 99_999),
    st.sampled_from(SIZE_CLASSES),
    st.sets(st.sampled_from(DOMAINS), min_size=2, max_size=3),
    st.integers(1, 400),
)
trios = st.lists(trio, min_size=0, max_size=24, unique_by=lambda t: t.registration_id)


def pairs(tables: list[list[str]]) -> list[frozenset[str]]:
    return [frozenset(p) for table in tables for p in combinations(table, 2)]


@settings(max_examples=300, deadline=None)
@given(trios)
def test_trios_in_pairs_never_share_a_table_twice_over_three_sessions(group: list[Trio]) -> None:
    plans = plan_seating(group, 2, 3)
    if len(group) != 2:  # two trios can only sit with each other: the one unavoidable repeat
        assert repeated_pairs(plans) == 0, plans


@settings(max_examples=200, deadline=None)
@given(trios, st.integers(1, 5))
def test_every_trio_sits_at_exactly_one_table_of_the_planned_sizes(group: list[Trio], table_size: int) -> None:
    for tables in plan_seating(group, table_size, 3):
        seated = [rid for table in tables for rid in table]
        assert sorted(seated) == sorted(t.registration_id for t in group)
        assert sorted(map(len, tables), reverse=True) == table_sizes(len(group), table_size)
        assert sum(len(t) < table_size for t in tables) <= 1  # at most one remainder table


@settings(max_examples=100, deadline=None)
@given(trios, st.integers(2, 4))
def test_the_same_trios_get_the_same_plan_whatever_order_they_come_in(group: list[Trio], table_size: int) -> None:
    assert plan_seating(group, table_size, 3) == plan_seating(list(reversed(group)), table_size, 3)


@settings(max_examples=100, deadline=None)
@given(trios.filter(lambda g: len(g) >= 4))
def test_sessions_planned_after_a_held_one_avoid_its_pairs(group: list[Trio]) -> None:
    held = plan_seating(group, 2, 1)
    later = plan_seating(group, 2, 2, history=held)
    assert not set(pairs(held[0])) & set(pairs(later[0]) + pairs(later[1]))


def test_eight_trios_in_pairs_over_three_sessions_meet_twelve_different_trios_between_them() -> None:
    group = [Trio(f"r{i}", False, T0, f"GM{i:04d}", SIZE_CLASSES[i % 3], ("fysiek", "sociaal")) for i in range(8)]
    plans = plan_seating(group, 2, 3)
    assert repeated_pairs(plans) == 0
    assert [len(tables) for tables in plans] == [4, 4, 4]


def test_nine_trios_at_tables_of_three_meet_new_trios_every_session() -> None:
    group = [Trio(f"r{i}", False, T0, f"GM{i:04d}") for i in range(9)]
    assert repeated_pairs(plan_seating(group, 3, 3)) == 0


def test_tables_mix_size_classes_when_the_trios_allow_it() -> None:
    small = [Trio(f"k{i}", False, T0, f"GM{i:04d}", "klein", ("fysiek", "sociaal")) for i in range(4)]
    mid = [Trio(f"m{i}", True, T0, f"GM{10 + i:04d}", "middelgroot", ("fysiek", "sociaal")) for i in range(4)]
    sizes = {t.registration_id: t.size_class for t in small + mid}
    (tables,) = plan_seating(small + mid, 2, 1)
    assert all(len({sizes[r] for r in table}) == 2 for table in tables)


def test_the_remainder_table_rotates_between_trios() -> None:
    group = [Trio(f"r{i}", False, T0, f"GM{i:04d}") for i in range(7)]
    alone = Counter(table[0] for tables in plan_seating(group, 2, 3) for table in tables if len(table) == 1)
    assert len(alone) == 3 and set(alone.values()) == {1}


# A trio joining once the seating is planned


def a(rid: str, size_class: str = "klein", municipality: str = "GM0001") -> Trio:
    return Trio(rid, False, T0, municipality=municipality, size_class=size_class, domains=("fysiek", "sociaal"))


def test_a_joining_trio_keeps_a_trio_sitting_alone_company_before_filling_a_fuller_table() -> None:
    tables = [OpenTable(1, (a("x"), a("y"))), OpenTable(2, (a("z"),))]
    assert join_tables(a("new"), [(tables, 3)], table_size=3) == [2]


def test_a_joining_trio_meets_other_trios_at_the_next_session_when_a_table_with_room_allows() -> None:
    first = [OpenTable(1, (a("x"),)), OpenTable(2, (a("y"), a("w")))]
    second = [OpenTable(1, (a("x"),)), OpenTable(4, (a("z"),))]
    assert join_tables(a("new"), [(first, 3), (second, 5)], table_size=3) == [1, 4]


def test_a_joining_trio_prefers_the_table_it_mixes_best_with_among_equals() -> None:
    tables = [OpenTable(1, (a("x", "klein", "GM0007"),)), OpenTable(2, (a("y", "groot", "GM0008"),))]
    assert join_tables(a("new", "klein", "GM0007"), [(tables, 3)], table_size=3) == [2]


def test_a_joining_trio_opens_a_new_table_only_when_every_table_is_full_and_reuses_an_emptied_one_first() -> None:
    full = [OpenTable(1, (a("x"), a("y")))]
    assert join_tables(a("new"), [(full, 2)], table_size=2) == [2]
    emptied = [OpenTable(1, (a("x"), a("y"))), OpenTable(2, ())]
    assert join_tables(a("new"), [(emptied, 3)], table_size=2) == [2]


def test_a_joining_trio_seated_on_a_full_plan_sits_at_exactly_one_table_per_session() -> None:
    group = [a(f"r{n}", SIZE_CLASSES[n % 3], f"GM{n:04d}") for n in range(9)]
    plans = plan_seating(group, 4, 3)
    sessions = [
        (
            [OpenTable(n, tuple(t for t in group if t.registration_id in table)) for n, table in enumerate(tables, 1)],
            len(tables) + 1,
        )
        for tables in plans
    ]
    chosen = join_tables(a("new"), sessions, table_size=4)
    assert len(chosen) == 3
    # Nine trios at tables of four: 4, 4 and 1; the newcomer joins the one sitting alone each time.
    assert all(len(plans[i][n - 1]) == 1 for i, n in enumerate(chosen))
