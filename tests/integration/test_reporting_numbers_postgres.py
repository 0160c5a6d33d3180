"""Reporting's overview numbers counted by PostgreSQL (the JSON size class, the grouped booleans and sums are
where the dialects differ): the same specification as on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from services.reporting import overview_api
from services.reporting.adapters import Inbox, Outbox
from services.reporting.bootstrap import MIGRATIONS
from shared.contract.reporting import ReportingCommandRejected
from shared.db import Database, migrate
from shared.messaging.processing import MessageStore
from tests.support import create_database, database_url, drop_database, require_port
from tests.unit.test_reporting_dashboard import TOKEN, Overview
from tests.unit.test_reporting_overview_api import numbers_are_counted

pytestmark = pytest.mark.integration


@pytest.fixture
async def reporting() -> AsyncIterator[tuple[Overview, httpx.AsyncClient]]:
    require_port("127.0.0.1", 5432, "PostgreSQL")
    name = await create_database("reporting_numbers")
    db = Database(database_url(name))
    try:
        await migrate(db, MIGRATIONS, "reporting")
        store = MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected)
        service = Overview(store, "https://werkplaatsen.example.nl")
        app = Starlette(routes=overview_api.routes(store, organizer_token=TOKEN))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
            yield service, http
        await service.http.aclose()
    finally:
        await db.dispose()
        await drop_database(name)


async def test_postgresql_counts_the_numbers_per_edition_as_sqlite_does(reporting) -> None:
    await numbers_are_counted(*reporting)
