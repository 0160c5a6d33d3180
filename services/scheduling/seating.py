"""Seating: tables of `table_size` trios per session, rotated so that trios meet new trios each time. Pure.

Per session the planner looks for tables in which no two trios have shared a table before (a depth-first
search that tries the best-mixed tables first: different size classes, municipalities and domains); only
when no such seating exists within the search budget does it fall back to the seating with the fewest
repeated pairs. Everything is ordered by registration_id as the last resort, so the same trios always
get the same plan.

A trio placed once the seating is planned joins a table with room instead (`join_tables`): a whole new plan
would move every other trio, and cost work for every placed trio per placement. Organisers can still ask for
a whole new plan (PlanSeating) before a session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from .domain import Trio

Tables = list[list[str]]
SEARCH_BUDGET = 10_000


def table_sizes(count: int, table_size: int) -> list[int]:
    """Full tables, then one remainder table when the count does not divide."""
    if count == 0:
        return []
    size = max(1, min(table_size, count))
    sizes = [size] * (count // size)
    if count % size:
        sizes.append(count % size)
    return sizes


def plan_seating(trios: Sequence[Trio], table_size: int, sessions: int, history: Sequence[Tables] = ()) -> list[Tables]:
    """Tables for `sessions` consecutive sessions, after the sessions in `history` (already held)."""
    met: Counter[frozenset[str]] = Counter()
    alone: Counter[str] = Counter()
    for tables in history:
        _remember(tables, table_size, met, alone)
    plans: list[Tables] = []
    for _ in range(sessions):
        tables = plan_session(trios, table_size, met, alone)
        _remember(tables, table_size, met, alone)
        plans.append(tables)
    return plans


def plan_session(trios: Sequence[Trio], table_size: int, met: Counter[frozenset[str]], alone: Counter[str]) -> Tables:
    # Trios that sat at the smaller remainder table before are seated first, at full tables.
    order = sorted(trios, key=lambda t: (-alone[t.registration_id], t.registration_id))
    sizes = table_sizes(len(order), table_size)
    search = _Search(sizes, met)
    found = search.without_repeats(order) if order else []
    tables = found if found is not None else search.fewest_repeats(order)
    return [[t.registration_id for t in table] for table in tables]


@dataclass(frozen=True)
class OpenTable:
    """A table of a session with room for another trio, and who sits there."""

    number: int
    trios: tuple[Trio, ...]


def join_tables(trio: Trio, sessions: Sequence[tuple[Sequence[OpenTable], int]], table_size: int) -> list[int]:
    """The table a newly placed trio joins at each coming session, given per session its tables with room and
    the number a new table would get.

    At each session it joins the table where it meets the fewest trios it already sits with at an earlier
    session of this join, then the table with the fewest trios (a trio alone at a remainder table gets company
    first), then the one it mixes best with; a new table only when every table is full."""
    met: set[str] = set()
    chosen: list[int] = []
    for tables, new_table in sessions:
        room = [t for t in tables if 0 < len(t.trios) < table_size]
        if not room:
            chosen.append(min((t.number for t in tables if not t.trios), default=new_table))
            continue
        best = min(
            room,
            key=lambda t: (
                sum(other.registration_id in met for other in t.trios),
                len(t.trios),
                tuple(-g for g in _gain(t.trios, trio)),
                t.number,
            ),
        )
        met.update(other.registration_id for other in best.trios)
        chosen.append(best.number)
    return chosen


def repeated_pairs(plans: Sequence[Tables]) -> int:
    """How many times two trios share a table again (0: everyone meets someone new at every table)."""
    seen: Counter[frozenset[str]] = Counter()
    for tables in plans:
        for table in tables:
            seen.update(frozenset(pair) for pair in combinations(table, 2))
    return sum(n - 1 for n in seen.values() if n > 1)


def _remember(tables: Tables, table_size: int, met: Counter[frozenset[str]], alone: Counter[str]) -> None:
    for table in tables:
        met.update(frozenset(pair) for pair in combinations(table, 2))
        if len(table) < table_size:
            alone.update(table)


def _gain(table: Sequence[Trio], trio: Trio) -> tuple[int, int, int]:
    """How much a trio adds to a table's mix: a new size class, a new municipality, new policy domains."""
    domains = {d for t in table for d in t.domains}
    return (
        int(all(t.size_class != trio.size_class for t in table)),
        int(all(t.municipality != trio.municipality for t in table)),
        len(set(trio.domains) - domains),
    )


class _Search:
    """Tables are filled one trio at a time: the first unseated trio, then the companion that mixes best."""

    def __init__(self, sizes: list[int], met: Counter[frozenset[str]]) -> None:
        self.sizes = sizes
        self.met = met
        self.nodes = 0

    def repeats(self, table: Sequence[Trio], trio: Trio) -> int:
        return sum(self.met[frozenset((t.registration_id, trio.registration_id))] for t in table)

    def companions(self, table: list[Trio], unseated: list[Trio]) -> list[Trio]:
        return sorted(unseated, key=lambda t: (self.repeats(table, t), tuple(-g for g in _gain(table, t))))

    def without_repeats(self, order: list[Trio]) -> list[list[Trio]] | None:
        self.nodes = 0
        return self._search([], [order[0]], order[1:], frozenset())

    def _search(
        self, done: list[list[Trio]], table: list[Trio], unseated: list[Trio], tried: frozenset[str]
    ) -> list[list[Trio]] | None:
        if len(table) == self.sizes[len(done)]:
            done = [*done, table]
            if len(done) == len(self.sizes):
                return done
            return self._search(done, [unseated[0]], unseated[1:], frozenset())
        # `tried`: companions already tried at this table in an earlier branch; each table is tried once.
        for trio in self.companions(table, [t for t in unseated if t.registration_id not in tried]):
            self.nodes += 1
            if self.nodes > SEARCH_BUDGET or self.repeats(table, trio) > 0:
                return None  # companions are sorted: once one repeats, all that follow do
            found = self._search(done, [*table, trio], [t for t in unseated if t is not trio], tried)
            if found is not None:
                return found
            tried = tried | {trio.registration_id}
        return None

    def fewest_repeats(self, order: list[Trio]) -> list[list[Trio]]:
        tables: list[list[Trio]] = []
        unseated = list(order)
        for size in self.sizes:
            table = [unseated.pop(0)]
            while len(table) < size:
                trio = self.companions(table, unseated)[0]
                unseated.remove(trio)
                table.append(trio)
            tables.append(table)
        return tables
