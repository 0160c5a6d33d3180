"""`werkplaatsen_sql_statements_total{service}`: every statement a service's engine sends to its database.

Round trips to the database are the currency of this system's CPU cost (docs/performance.md), so the benchmark
reads this counter from each service's /metrics and prints statements per registration. Counted by SQLAlchemy's
`before_cursor_execute` event: one per `execute` or `executemany` through the engine, BEGIN and COMMIT not
included (the driver sends those itself), nor what code sends on a raw driver connection.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import SERVICES

SQL_STATEMENTS = Counter(
    "werkplaatsen_sql_statements_total", "SQL statements sent to the service's database", ["service"]
)
STORES = (*SERVICES, "console")


def store_of(url: URL) -> str:
    """The service a database belongs to, from its name (wp_bench_registration_1a2b, werkplaatsen_scheduling,
    data/notifications.sqlite3); the database's own name when it names none."""
    name = (url.database or "").rsplit("/", 1)[-1].removesuffix(".sqlite3")
    parts = name.replace("-", "_").split("_")
    return next((store for store in STORES if store in parts), name or "unknown")


def count_statements(engine: AsyncEngine) -> None:
    counter = SQL_STATEMENTS.labels(store_of(engine.url))

    def counted(*_: Any) -> None:
        counter.inc()

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
