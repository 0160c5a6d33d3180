"""One trace follows a command through its handler, the outbox and the event's consumer in another service."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.registration import bootstrap as registration
from services.registration.adapters import EditionRow
from services.scheduling import bootstrap as scheduling
from shared.messaging.messages import Outgoing
from shared.messaging.rabbit import RabbitTransport
from shared.settings import Settings
from shared.tracing import configure_tracing
from tests.factories import by_organiser, open_edition
from tests.support import Bus, ServiceProcess, amqp_url, database_url, free_port, strong_secret, wait_until

pytestmark = pytest.mark.integration


async def test_a_command_and_the_event_it_causes_in_another_service_share_one_trace(
    vhost, pg_database, tmp_path
) -> None:
    exporter = InMemorySpanExporter()
    provider = configure_tracing("test", exporter=exporter)
    url = amqp_url(vhost)
    settings = Settings(
        werkplaatsen_broker_url=url,
        werkplaatsen_data_dir=tmp_path,
        scheduling_database_url=database_url(await pg_database("trace_s")),
        registration_database_url=database_url(await pg_database("trace_r")),
        werkplaatsen_secret_key="trace-secret",
        werkplaatsen_organizer_token="trace-token",
    )
    services = [
        scheduling.build(settings, RabbitTransport(url, "scheduling", tracer_provider=provider)),
        registration.build(settings, RabbitTransport(url, "registration", tracer_provider=provider)),
    ]
    front_end = RabbitTransport(url, "front-end", tracer_provider=provider)
    for service in services:
        await service.start()
    try:
        await front_end.broker.connect()
        body = by_organiser("scheduling.ScheduleEdition", open_edition())
        with provider.get_tracer("test").start_as_current_span("front end submits") as root:
            await front_end.publish(
                Outgoing(
                    exchange="werkplaatsen.commands",
                    routing_key="scheduling.ScheduleEdition",
                    body=json.dumps(body).encode(),
                    message_id="trace-1",
                    message_type="ScheduleEdition",
                    correlation_id="trace-1",
                )
            )
        trace_id = root.get_span_context().trace_id

        async def registration_knows_the_edition() -> bool:
            async with services[1].store.db.sessions() as session:
                return await session.get(EditionRow, body["edition"]) is not None

        await wait_until(registration_knows_the_edition, what="registration's copy of the edition")
        provider.force_flush()
        await wait_until(
            lambda: _finished(exporter, "werkplaatsen.events.scheduling.EditionScheduled process"),
            what="the consumer span",
        )
        names = {span.name: span for span in exporter.get_finished_spans()}
    finally:
        await front_end.stop()
        for service in reversed(services):
            await service.stop()
        provider.shutdown()

    handled = names["werkplaatsen.commands.scheduling.ScheduleEdition process"]
    relayed = names["werkplaatsen.events.scheduling.EditionScheduled publish"]
    consumed = names["werkplaatsen.events.scheduling.EditionScheduled process"]
    assert {handled.context.trace_id, relayed.context.trace_id, consumed.context.trace_id} == {trace_id}
    # The relay's publish is a descendant of the handler's span, although it ran later in another task.
    assert _ancestors(relayed, exporter) >= {handled.context.span_id}
    # FastStream injects the context of a "create" span whose children are both the publish and the process span.
    assert consumed.parent.span_id == relayed.parent.span_id
    assert _ancestors(consumed, exporter) >= {handled.context.span_id}


def _finished(exporter: InMemorySpanExporter, name: str) -> bool:
    return any(span.name == name for span in exporter.get_finished_spans())


def _ancestors(span, exporter: InMemorySpanExporter) -> set[int]:
    by_id = {s.context.span_id: s for s in exporter.get_finished_spans()}
    found = set()
    while span.parent is not None:
        found.add(span.parent.span_id)
        span = by_id.get(span.parent.span_id)
        if span is None:
            break
    return found


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


async def test_a_service_exports_its_spans_over_otlp_when_an_endpoint_is_set(vhost, pg_database, tmp_path) -> None:
    collector = HTTPServer(("127.0.0.1", free_port()), _Collector)
    _Collector.received = []
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "WERKPLAATSEN_BROKER_URL": amqp_url(vhost),
        "WERKPLAATSEN_CONSOLE_BROKER_USERS": "guest",
        "SCHEDULING_DATABASE_URL": database_url(await pg_database("otlp")),
        "WERKPLAATSEN_SECRET_KEY": strong_secret("otlp-secret"),
        "WERKPLAATSEN_ORGANIZER_TOKEN": strong_secret("otlp-token"),
        "WERKPLAATSEN_DATA_DIR": str(tmp_path),
        "WERKPLAATSEN_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    service = ServiceProcess("scheduling", env, free_port(), tmp_path / "scheduling.log")
    service.start()
    try:
        await service.wait_ready()
        async with Bus(amqp_url(vhost)) as bus:
            await bus.send("scheduling.ScheduleEdition", open_edition())
            await bus.wait_for("EditionScheduled")
        await wait_until(lambda: _spans(_Collector.received), what="spans at the collector")
    finally:
        service.stop()
        collector.shutdown()
    spans = _spans(_Collector.received)
    assert {path for path, _, _ in _Collector.received} == {"/v1/traces"}
    assert {kind for _, kind, _ in _Collector.received} == {"application/x-protobuf"}
    assert ("werkplaatsen-scheduling", "werkplaatsen.commands.scheduling.ScheduleEdition process") in spans


def _spans(received: list[tuple[str, str, bytes]]) -> set[tuple[str, str]]:
    found = set()
    for _, _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                found.update((attributes.get("service.name", ""), span.name) for span in scope.spans)
    return found


async def test_without_an_endpoint_tracing_is_off() -> None:
    assert configure_tracing("scheduling", environ={}) is None
    assert (
        configure_tracing(
            "scheduling", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
        )
        is None
    )
    transport = RabbitTransport("amqp://guest:guest@127.0.0.1/", "scheduling")
    assert [type(m).__name__ for m in transport.broker.middlewares] == ["RabbitPrometheusMiddleware"]
