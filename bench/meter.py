"""The figures every phase reports, from two readings of the system: CPU per registration of each service and of
PostgreSQL, SQL statements per registration, broker deliveries and their rate against the ceiling."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.probes import postgres_cpu_seconds
from bench.system import System, cpu_per


@dataclass(frozen=True)
class Reading:
    at: float
    cpu: dict[str, float]
    postgres: float
    deliveries: dict[str, float]
    statements: dict[str, float]


async def read(system: System) -> Reading:
    deliveries, statements = await system.counters()
    return Reading(time.time(), system.cpu_seconds(), postgres_cpu_seconds(), deliveries, statements)


def figures(
    before: Reading, after: Reading, registrations: int, *, seconds: float | None = None, ceiling: float = 0.0
) -> dict[str, Any]:
    """Per registration between the readings; deliveries/s over `seconds` (the phase's own clock, the time between
    the readings when not given) and efficiency against the broker's ceiling (msg/s) when it is known."""
    seconds = seconds if seconds is not None else after.at - before.at
    cpu = cpu_per(before.cpu, after.cpu, registrations)
    services_total = cpu.pop("total")
    cpu["postgres"] = round((after.postgres - before.postgres) * 1000 / max(registrations, 1), 2)
    cpu["services"] = round(services_total, 2)
    cpu["total"] = round(services_total + cpu["postgres"], 2)
    statements = {
        name: round((after.statements[name] - before.statements.get(name, 0.0)) / max(registrations, 1), 2)
        for name in after.statements
    }
    statements["total"] = round(sum(statements.values()), 2)
    deliveries = sum(after.deliveries.values()) - sum(before.deliveries.values())
    rate = deliveries / seconds if seconds > 0 else 0.0
    return {
        "cpu_ms_per_registration": cpu,
        "sql_per_registration": statements,
        "deliveries": int(deliveries),
        "deliveries_per_s": round(rate, 1),
        "efficiency": round(rate / ceiling, 3) if ceiling else None,
    }
