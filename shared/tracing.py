"""OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, off otherwise.

The trace context travels in AMQP headers (W3C `traceparent`, `tracestate`, `baggage`). FastStream's
OpenTelemetry middleware on the RabbitMQ broker starts a span for every message consumed and published. Events are
not published by the handler that causes them but later, by the outbox relay: so the outbox stores the trace
context of the work that wrote a row in the row's headers, and the relay publishes the row inside that context.
A trace therefore follows a command through its handler, the events it causes and their consumers in the other
services.

Spans are exported with OTLP over HTTP/protobuf (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://collector:4318`); the
exporter's other standard variables (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_BSP_*`) apply as usual. `OTEL_SDK_DISABLED=true` turns tracing off even when an endpoint is set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context, propagate
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def configure_tracing(
    service: str, *, exporter: SpanExporter | None = None, environ: Mapping[str, str] = os.environ
) -> TracerProvider | None:
    """A tracer provider for `service`, or None when tracing is off (no exporter given and no endpoint set).

    The provider is handed to the transport rather than installed globally, so that several services in one
    process (tests) can each have their own. Call `shutdown()` on it when the process stops, to send what is left.
    """
    if exporter is None:
        if not tracing_enabled(environ):
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME, when set, replaces the default name.
    name = environ.get("OTEL_SERVICE_NAME") or f"werkplaatsen-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def current_trace_headers() -> dict[str, str]:
    """The current trace context as message headers; empty when there is none (tracing off, or no span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def continued_from(headers: Mapping[str, Any]) -> Iterator[None]:
    """Run the block in the trace context carried by `headers` (e.g. an outbox row's), if any."""
    carrier = {key: value for key, value in headers.items() if isinstance(value, str)}
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)
