"""werkplaatsen_sql_statements_total counts what a service's engine sends, under the service's name."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.db import Database
from shared.sql_statements import store_of


def statements(service: str) -> float:
    return REGISTRY.get_sample_value("werkplaatsen_sql_statements_total", {"service": service}) or 0.0


def test_a_database_is_named_after_the_service_whose_name_it_carries() -> None:
    assert store_of(make_url("postgresql+asyncpg://postgres@127.0.0.1/wp_bench_scheduling_1a2b")) == "scheduling"
    assert store_of(make_url("postgresql+asyncpg://postgres@db/werkplaatsen_notifications")) == "notifications"
    assert store_of(make_url("sqlite+aiosqlite:////var/lib/werkplaatsen/registration.sqlite3")) == "registration"
    assert store_of(make_url("postgresql+asyncpg://postgres@db/elsewhere")) == "elsewhere"


async def test_every_statement_of_a_database_engine_is_counted_for_its_service(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    before = statements("reporting")
    try:
        async with db.transaction() as session:
            for n in range(3):
                await session.execute(text(f"SELECT {n}"))
    finally:
        await db.dispose()
    assert statements("reporting") - before == 3
