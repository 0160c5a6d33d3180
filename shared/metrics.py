"""Prometheus metrics shared by every service (label `service` tells them apart in `werkplaatsen dev`)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "werkplaatsen_messages_total", "Messages consumed, by outcome (ack, retry, dead_letter)",
    ["service", "routing_key", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "werkplaatsen_handler_seconds", "Time spent processing one message", ["service", "routing_key"],
)
OUTBOX_PENDING = Gauge("werkplaatsen_outbox_pending", "Outbox rows not yet confirmed by the broker", ["service"])
