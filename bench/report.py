"""The table `python -m bench` prints: one section per phase, the same figures as the JSON."""

from __future__ import annotations

from typing import Any

Rows = list[tuple[str, str]]


def table(results: dict[str, Any]) -> str:
    rows: Rows = []
    m, c = results["machine"], results["ceiling"]
    rows.append(("machine", f"{m['cores']} cores, {m['memory_gb']} GB, phases {','.join(results['phases'])}"))
    rows.append(("ceiling (publish+confirm+consume+ack)", f"{c['msg_per_s']} msg/s ({c['message_bytes']} B)"))
    if r := results.get("register"):
        rows.append(
            (
                "register only",
                f"{r['registrations']} trios, every member's mail in {r['seconds']} s: {r['trios_per_s']} trios/s "
                f"(registered {r['registered_per_s']}/s)",
            )
        )
        rows.append(("register only mails", _counts(r["mails"])))
        rows += _costs("register only", r)
    if j := results.get("journey"):
        rows.append(
            (
                "journey",
                f"{j['registrations']} trios placed and every mail out in {j['seconds']} s: {j['trios_per_s']} "
                f"trios/s, {j['mails_per_s']} mails/s (all placed after {j['placed_seconds']} s)",
            )
        )
        per_trio = {kind: round(n / j["registrations"], 2) for kind, n in j["mails"].items()}
        rows.append(("journey mails", f"{j['mails_total']}: {_counts(j['mails'])}; per trio {_counts(per_trio)}"))
        rows += _costs("journey", j)
    if w := results.get("waitlist"):
        rows.append(
            (
                "waitlist burst",
                f"{w['registrations']} trios in {w['seconds']} s ({w['placed']} placed, {w['waitlisted']} "
                f"waitlisted): {w['registrations_per_s']}/s; every mail out after {w['all_mails_seconds']} s",
            )
        )
        rows.append(("waitlist burst mails", f"{w['mails_total']}: {_counts(w['mails'])}"))
        rows += _costs("waitlist burst", w)
    for kind, curve in results.get("curve", {}).items():
        for point in curve["points"]:
            cpu = point["cpu_ms_per_registration"]
            rows.append(
                (
                    f"curve {kind} {point['size']} (held {point['held']}, window {point['window']})",
                    f"{cpu['total']} ms/registration ({_counts(_without(cpu, 'total', 'services'))}); "
                    f"SQL {point['sql_per_registration']['total']}; efficiency {_share(point['efficiency'])}",
                )
            )
        rows.append((f"curve {kind} largest/smallest", _counts(curve["ratio"])))
    for name in ("steady", "pressure"):
        if s := results.get(name):
            rows += _steady(name, s)
    if rep := results.get("replicas"):
        n, g, s = rep["notifications"], rep["registration"], rep["scheduling"]
        rows.append(
            (
                f"notifications 1 -> 2, SMTP {n['smtp_latency_ms']} ms, {n['smtp_concurrency']} sessions each",
                f"{n['replicas_1']['mails_per_s']} -> {n['replicas_2']['mails_per_s']} mails/s ({n['ratio']}x)",
            )
        )
        rows.append(
            (
                f"registration 1 -> 2, {g['trios']} trios",
                f"{g['replicas_1']['registrations_per_s']} -> {g['replicas_2']['registrations_per_s']} "
                f"registrations/s ({g['ratio']}x)",
            )
        )
        one, three = s["replicas_1"], s["replicas_3"]
        rows.append(
            (
                f"scheduling 1 -> 3, {s['trios']} approvals, {s['places']} places",
                f"{one['approvals_per_s']} -> {three['approvals_per_s']} approvals/s ({s['ratio']}x); "
                f"correct {one['correct']}/{three['correct']} (placed {one['placed']}/{three['placed']}, "
                f"twice {one['placed_twice']}/{three['placed_twice']})",
            )
        )
    for name, mb in results.get("peak_rss_mb", {}).items():
        rows.append((f"peak RSS {name}", f"{mb} MB"))
    if d := results.get("shutdown"):
        stopped = f"exited after {d['seconds_to_exit']} s" if d["exited"] else "still running after 60 s (killed)"
        rows.append(
            (
                "shutdown under a backlog",
                f"{d['mails_waiting']} mails waiting, SIGTERM: {stopped} (exit code {d['exit_code']}, "
                f"{'service_stopped logged' if d['stopped_cleanly'] else 'no service_stopped in its log'})",
            )
        )
    if p := results.get("pretix"):
        rows.append(
            (
                "pretix",
                f"{p['orders_per_s']} orders/s, {p['cpu_ms_per_order']} ms CPU per order; journey/pretix "
                f"{p['ratio_journey']}x, register only/pretix {p['ratio_register']}x",
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _costs(label: str, phase: dict[str, Any]) -> Rows:
    cpu = phase["cpu_ms_per_registration"]
    efficiency = _share(phase.get("efficiency"))
    return [
        (
            f"{label} CPU ms per registration",
            f"{_counts(_without(cpu, 'total', 'services'))}; services {cpu['services']}, with postgres {cpu['total']}",
        ),
        (f"{label} SQL per registration", f"{_counts(phase['sql_per_registration'])} (pretix: 158 per order)"),
        (f"{label} deliveries", f"{phase['deliveries']} ({phase['deliveries_per_s']}/s), efficiency {efficiency}"),
    ]


def _steady(name: str, s: dict[str, Any]) -> Rows:
    rows: Rows = [(f"{name} {s['rate']}/s for {s['seconds']} s", f"achieved {s['achieved_rate']}/s")]
    for key, label in (
        ("to_trio_registered_ms", "-> TrioRegistered"),
        ("to_first_acknowledgement_ms", "-> first ack mail"),
        ("to_acknowledgement_mail_ms", "-> last ack mail"),
    ):
        p = s[key]
        rows.append((f"{name} {label} ms", f"p50 {p['p50']}  p95 {p['p95']}  p99 {p['p99']}  max {p['max']}"))
    if q := s.get("queues"):
        verdict = "GROWS" if q["grows"] else "bounded"
        rows.append(
            (
                f"{name} queues ({q['samples']} samples)",
                f"{verdict}: deepest {q['max_depth']} ({q['max_depth_queue'] or '-'}), steepest trend "
                f"{q['max_trend_per_s']} msg/s in the second half",
            )
        )
    return rows + _costs(name, s)


def _share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"


def _without(figures: dict[str, float], *keys: str) -> dict[str, float]:
    return {k: v for k, v in figures.items() if k not in keys}


def _counts(figures: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in figures.items())
