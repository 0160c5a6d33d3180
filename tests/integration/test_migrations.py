"""Each service's Alembic history matches its models and is safe when replicas start together."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import Database, migrate
from shared.settings import SERVICES
from tests.support import database_url

pytestmark = pytest.mark.integration

# Where a service's declarative models are (what its migrations/env.py reads).
MODELS = {"notifications": "services.notifications.store.tables"}


@pytest.mark.parametrize("service", SERVICES)
async def test_replicas_starting_together_migrate_an_empty_database_once(service: str, pg_database) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    url = database_url(await pg_database(service[:5]))
    replicas = [Database(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(db, bootstrap.MIGRATIONS, service) for db in replicas))
        models = importlib.import_module(MODELS.get(service, f"services.{service}.adapters"))
        async with replicas[0].engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), models.Base.metadata)
            )
        assert differences == [], f"models and migrations of {service} differ: run `werkplaatsen db revision`"
    finally:
        for db in replicas:
            await db.dispose()
