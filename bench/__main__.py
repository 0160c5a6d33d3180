"""python -m bench [--registrations N] [--rate R --seconds S] [--output bench-results.json] [--skip-scaling]"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import ceiling, scenarios
from bench.driver import Driver
from bench.system import SmtpServer, System, end_profile, machine
from tests.support import AMQP_HOST, amqp_url, create_vhost, delete_vhost, require_port


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--registrations", type=int, default=1000, help="trios in the burst (default 1000)")
    parser.add_argument("--rate", type=float, default=20.0, help="registrations/s of the steady phase")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the steady phase")
    parser.add_argument("--ceiling-messages", type=int, default=20000)
    parser.add_argument("--scaling-trios", type=int, default=100, help="TrioRegistered events replayed per run")
    parser.add_argument("--smtp-latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--smtp-concurrency",
        type=int,
        default=2,
        help="SMTP conversations per notifications replica in the scaling phase (default 2)",
    )
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait of any phase, seconds")
    parser.add_argument("--output", default="bench-results.json")
    parser.add_argument("--workdir", help="where service logs go (default: a new temporary directory)")
    parser.add_argument(
        "--profile",
        choices=("burst", "steady"),
        help="record this phase with py-spy (installed in the venv): <workdir>/profile-<phase>/",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    require_port(AMQP_HOST, 5672, "RabbitMQ")
    require_port("127.0.0.1", 5432, "PostgreSQL")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="werkplaatsen-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "logs": str(workdir),
    }
    smtp = await SmtpServer(workdir / "mails.jsonl").start()
    system = System(workdir, smtp)
    try:
        await system.start()
        async with Driver(system.amqp_url) as driver:
            driver.keep("TrioRegistered", "EditionScheduled")
            edition = await scenarios.schedule(driver, scenarios.edition_past_deadline())
            await scenarios.warm_up(driver, smtp, edition)
            size = len(driver.raw["TrioRegistered"][0].body)
            results["ceiling"] = await measure_ceiling(args.ceiling_messages, size)
            profilers = system.profile(workdir / "profile-burst") if args.profile == "burst" else []
            results["burst"] = await scenarios.burst(system, driver, edition, args.registrations, args.timeout)
            end_profile(profilers)
            results["burst"]["efficiency"] = round(
                results["burst"]["deliveries_per_s"] / results["ceiling"]["msg_per_s"], 3
            )
            results["peak_rss_mb_after_burst"] = system.peak_rss_mb()
            driver.approve = False  # latency of registration itself; approvals come hours later in practice
            profilers = system.profile(workdir / "profile-steady") if args.profile == "steady" else []
            results["latency"] = await scenarios.steady(system, driver, edition, args.rate, args.seconds, args.timeout)
            end_profile(profilers)
            results["peak_rss_mb"] = system.peak_rss_mb()
            replay = driver.raw["TrioRegistered"][1 : 1 + args.scaling_trios]
            edition_event = driver.raw["EditionScheduled"][0]
    finally:
        await system.stop()
        smtp.stop()
    if args.skip_scaling:
        results["scaling"] = "not measured (--skip-scaling)"
    else:
        results["scaling"] = await scenarios.notifications_scaling(
            workdir, replay, edition_event, args.smtp_latency_ms, args.timeout, args.smtp_concurrency
        )
    return results


async def measure_ceiling(messages: int, size: int) -> dict[str, Any]:
    """On a vhost of its own, so nothing of the services' traffic shares its queue."""
    vhost = create_vhost()
    try:
        return await ceiling.measure(amqp_url(vhost), messages=messages, size=size)
    finally:
        delete_vhost(vhost)


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    m, c, b, lat = results["machine"], results["ceiling"], results["burst"], results["latency"]
    rows.append(("machine", f"{m['cores']} cores, {m['memory_gb']} GB"))
    rows.append(("ceiling (publish+confirm+consume+ack)", f"{c['msg_per_s']} msg/s ({c['message_bytes']} B)"))
    rows.append(
        (
            "burst",
            f"{b['registrations']} trios in {b['seconds']} s ({b['placed']} placed, {b['waitlisted']} waitlisted)",
        )
    )
    rows.append(("burst registrations/s", str(b["registrations_per_s"])))
    rows.append(("burst deliveries/s", f"{b['deliveries_per_s']} ({b['deliveries']} deliveries)"))
    rows.append(("burst efficiency", f"{b['efficiency']:.1%}"))
    rows.append(("burst, until every mail is out", f"{b['all_mails_seconds']} s ({b['mails']} mails)"))
    rows.append(("burst CPU ms per registration", _per_service(b["cpu_ms_per_registration"])))
    rows.append((f"steady {lat['rate']}/s for {lat['seconds']} s", f"achieved {lat['achieved_rate']}/s"))
    for key, label in (("to_trio_registered_ms", "-> TrioRegistered"), ("to_acknowledgement_mail_ms", "-> ack mail")):
        p = lat[key]
        rows.append((f"latency {label} ms", f"p50 {p['p50']}  p95 {p['p95']}  p99 {p['p99']}  max {p['max']}"))
    rows.append(("steady CPU ms per registration", _per_service(lat["cpu_ms_per_registration"])))
    scaling = results["scaling"]
    if isinstance(scaling, dict):
        rows.append(
            (
                f"notifications, SMTP {scaling['smtp_latency_ms']} ms, "
                f"{scaling['smtp_concurrency']} sessions per replica",
                f"1 replica {scaling['replicas_1']['mails_per_s']} mails/s, 2 replicas "
                f"{scaling['replicas_2']['mails_per_s']} mails/s, ratio {scaling['ratio']}",
            )
        )
    else:
        rows.append(("notifications scaling", scaling))
    for name, mb in results["peak_rss_mb"].items():
        rows.append((f"peak RSS {name}", f"{mb} MB"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _per_service(figures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value}" for name, value in figures.items())


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    results = asyncio.run(run(args))
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nwritten to {args.output}; service logs in {results['logs']}")


if __name__ == "__main__":
    main()
