from __future__ import annotations

import pytest

from tests.support import SmtpSink, create_database, create_vhost, delete_vhost, drop_database, require_port


@pytest.fixture(scope="session")
def real_services() -> None:
    require_port("127.0.0.1", 5672, "RabbitMQ")
    require_port("127.0.0.1", 5432, "PostgreSQL")


@pytest.fixture
async def pg_database(real_services):  # noqa: ANN201
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    created: list[str] = []

    async def make(prefix: str = "t") -> str:
        name = await create_database(prefix)
        created.append(name)
        return name

    yield make
    for name in created:
        await drop_database(name)


@pytest.fixture
def vhost(real_services):  # noqa: ANN201
    name = create_vhost()
    yield name
    delete_vhost(name)


@pytest.fixture
def smtp_sink():  # noqa: ANN201
    sink = SmtpSink().start()
    yield sink
    sink.stop()
