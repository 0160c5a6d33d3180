"""The flat-cost curve: CPU and SQL statements per registration of the full journey, measured in a window of trios
when the edition already holds 10, 100, 1,000 … placed trios, and again when its waitlist is that long.

Between windows the edition is filled as fast as the system takes it and left to go idle, so a window measures
only its own trios' work. The waitlist's trios all come from one (middelgroot) municipality: each joins the end
of the waitlist, as most do, rather than moving everyone behind it (that fan-out is the domain's, not a cost that
should be flat)."""

from __future__ import annotations

from typing import Any

from bench import meter
from bench.driver import Driver, Trio
from bench.scenarios import new_edition, outcomes, register_many, settled
from bench.system import System

PROGRAMME_PLACES = 8  # the factories' programme: the waitlist curve's edition keeps it


async def curve(
    system: System, driver: Driver, sizes: list[int], window: int, timeout: float, ceiling: float, *, waitlist: bool
) -> dict[str, Any]:
    driver.approve = True
    places = PROGRAMME_PLACES if waitlist else max(sizes) + window * len(sizes) + 10
    edition, _ = await new_edition(system, driver, max_trios=places)
    trios: list[Trio] = []

    def holding() -> int:
        placed = 1 + sum(t.outcome == "TrioPlaced" for t in trios)  # the warm-up trio is placed first
        return sum(t.outcome == "TrioWaitlisted" for t in trios) if waitlist else placed

    points = []
    for size in sorted(sizes):
        if size > holding():
            missing = size - holding() + (max(0, places - 1 - len(trios)) if waitlist else 0)
            trios += await register_many(driver, edition, missing, "f", paying=not waitlist)
            await outcomes(trios, timeout, f"the edition filled to {size}")
            await settled(system, timeout, f"idle at {size}")
        before = await meter.read(system)
        held = holding()
        measured = await register_many(driver, edition, window, "w", paying=not waitlist)
        await outcomes(measured, timeout, f"the window at {size}")
        await settled(system, timeout, f"the window at {size} idle")
        after = await meter.read(system)
        trios += measured
        if waitlist and any(t.outcome != "TrioWaitlisted" for t in measured):
            raise RuntimeError("a trio of the waitlist curve's window was placed: the waitlist curve measures no place")
        figures = meter.figures(before, after, window, ceiling=ceiling)
        points.append(
            {
                "size": size,
                "held": held,
                "window": window,
                "seconds": round(after.at - before.at, 3),
                **{
                    k: figures[k]
                    for k in ("cpu_ms_per_registration", "sql_per_registration", "deliveries", "efficiency")
                },
            }
        )
    return {"kind": "waitlist" if waitlist else "placed", "points": points, "ratio": ratios(points)}


def ratios(points: list[dict[str, Any]]) -> dict[str, float | None]:
    """Largest ÷ smallest CPU per registration over the curve, per process and in total."""
    if not points:
        return {}
    names = points[0]["cpu_ms_per_registration"]
    result: dict[str, float | None] = {}
    for name in names:
        values = [p["cpu_ms_per_registration"].get(name, 0.0) for p in points]
        result[name] = round(max(values) / min(values), 2) if min(values) > 0 else None
    return result
