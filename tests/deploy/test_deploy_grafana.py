"""The Grafana dashboard asks only for metrics the services (or RabbitMQ's Prometheus plugin) actually export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry

import shared.metrics  # noqa: F401 - registers the werkplaatsen_* metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "werkplaatsen.json"
# From RabbitMQ's rabbitmq_prometheus plugin (per-object metrics on), not from our code.
RABBITMQ_METRICS = {"rabbitmq_queue_messages", "rabbitmq_queue_consumers"}


def exported_names() -> set[str]:
    faststream = CollectorRegistry()
    RabbitPrometheusMiddleware(registry=faststream)
    names: set[str] = set()
    for registry in (REGISTRY, faststream):
        for collector in list(registry._collector_to_names):
            names.update(registry._collector_to_names[collector])
    return names


def queried_names(dashboard: dict) -> set[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return {m for e in exprs for m in re.findall(r"\b((?:werkplaatsen|faststream|rabbitmq)_[a-z_]+)\b", e)}


def test_every_metric_on_the_dashboard_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    missing = {name for name in queried_names(dashboard) if name not in exported_names() | RABBITMQ_METRICS}
    assert missing == set()


def test_the_dashboard_covers_the_metrics_operators_need() -> None:
    queried = queried_names(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    assert {
        "werkplaatsen_outbox_pending",
        "werkplaatsen_outbox_oldest_age_seconds",
        "werkplaatsen_inbox_duplicates_total",
        "werkplaatsen_dead_letters_total",
        "werkplaatsen_outbox_published_total",
        "werkplaatsen_registrations",
        "werkplaatsen_places_left",
        "werkplaatsen_waitlist_length",
        "faststream_published_messages_total",
    } <= queried


def test_panels_have_unique_ids_and_every_query_its_own_ref_id() -> None:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs))
        assert panel["type"] == "row" or panel["targets"]
