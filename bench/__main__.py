"""python -m bench [--phases register,journey,waitlist,curve,steady,replicas,shutdown] [--compare-pretix] …

Every workload of issue 19 in one command; docs/performance.md says what each phase measures."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bench import ceiling, curve, journey, replicas, shutdown, steady
from bench.driver import Driver
from bench.replicas import data_of
from bench.report import table
from bench.scenarios import new_edition
from bench.system import SmtpServer, System, end_profile, machine
from tests.support import AMQP_HOST, amqp_url, create_vhost, delete_vhost, require_port

PHASES = ("register", "journey", "waitlist", "curve", "steady", "replicas", "shutdown")
MAIN_SYSTEM = ("register", "journey", "waitlist", "curve", "steady")
T = TypeVar("T")


def sizes(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


def phases(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = set(chosen) - set(PHASES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {', '.join(sorted(unknown))}; known: {', '.join(PHASES)}")
    return chosen


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--phases", type=phases, default=list(PHASES), help=f"which phases, comma-separated ({','.join(PHASES)})")
    add("--skip", type=phases, default=[], help="phases to leave out, comma-separated")
    add("--register-trios", type=int, default=500, help="registrations of the register-only phase (default 500)")
    add("--journey-trios", type=int, default=1000, help="trios of the full journey (default 1000)")
    add("--waitlist-trios", type=int, default=1000, help="trios of the waitlist burst, 8 places (default 1000)")
    add("--curve", type=sizes, default=sizes("10,100,1000,5000"), help="edition sizes of the flat-cost curve")
    add("--curve-window", type=int, default=50, help="trios measured at each size of the curve (default 50)")
    add("--rate", type=float, default=20.0, help="registrations/s of the steady phase (default 20)")
    add("--seconds", type=float, default=60.0, help="length of the steady phase (default 60)")
    add("--pressure-rate", type=float, default=50.0, help="registrations/s of the queue-growth phase (default 50)")
    add("--pressure-seconds", type=float, default=30.0, help="length of the queue-growth phase (default 30)")
    add("--ceiling-messages", type=int, default=20000)
    add("--scaling-trios", type=int, default=100, help="TrioRegistered events replayed to notifications replicas")
    add("--replica-trios", type=int, default=300, help="trios of the registration and scheduling replica runs")
    add("--smtp-latency-ms", type=float, default=50.0, help="SMTP latency of the notifications replica runs")
    add("--smtp-concurrency", type=int, default=2, help="SMTP conversations per notifications replica (default 2)")
    add("--shutdown-trios", type=int, default=1000, help="trios whose mails make the shutdown backlog (3 each)")
    add("--shutdown-smtp-latency-ms", type=float, default=500.0, help="SMTP latency while the backlog builds")
    add("--skip-scaling", action="store_true", help="the same as --skip replicas")
    add("--compare-pretix", action="store_true", help="then measure pretix (bench/pretix.py) and print the ratios")
    add("--timeout", type=float, default=600.0, help="longest wait of any phase, seconds")
    add("--output", default="bench-results.json")
    add("--workdir", help="where service logs go (default: a new temporary directory)")
    add(
        "--profile", choices=MAIN_SYSTEM, help="record this phase with py-spy (in the venv): <workdir>/profile-<phase>/"
    )
    args = parser.parse_args(argv)
    if args.compare_pretix and importlib.util.find_spec("bench.pretix") is None:
        parser.error("--compare-pretix needs bench/pretix.py, which is not there")
    skipped = set(args.skip) | ({"replicas"} if args.skip_scaling else set())
    args.selected = [p for p in PHASES if p in args.phases and p not in skipped]
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    require_port(AMQP_HOST, 5672, "RabbitMQ")
    require_port("127.0.0.1", 5432, "PostgreSQL")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="werkplaatsen-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "phases": args.selected,
        "logs": str(workdir),
    }
    selected, timeout = args.selected, args.timeout
    journey_edition: dict[str, Any] = {}  # the journey's edition, which the scheduling replicas schedule again
    smtp = await SmtpServer(workdir / "mails.jsonl").start()
    system = System(workdir, smtp)
    try:
        await system.start()
        async with Driver(system.amqp_url) as driver:
            driver.keep("TrioRegistered", "EditionScheduled", "RegistrationApproved")
            # The edition of the phases that only register; its warm-up trio's TrioRegistered sizes the ceiling's
            # messages.
            open_edition, _ = await new_edition(system, driver)
            size = len(driver.raw["TrioRegistered"][0].body)
            results["ceiling"] = await measure_ceiling(args.ceiling_messages, size)
            top = results["ceiling"]["msg_per_s"]

            async def phase(name: str, work: Awaitable[T]) -> T:
                profiling = args.profile == name.split("-", 1)[0]
                profilers = system.profile(workdir / f"profile-{name}") if profiling else []
                try:
                    return await timed(results, name, work)
                finally:
                    end_profile(profilers)

            if "register" in selected:
                results["register"] = await phase(
                    "register", journey.register_only(system, driver, open_edition, args.register_trios, timeout, top)
                )
            if "journey" in selected or "replicas" in selected:
                trios = args.journey_trios if "journey" in selected else args.replica_trios
                measured = await phase("journey", journey.full_journey(system, driver, trios, timeout, top))
                journey_edition = measured.pop("edition")
                if "journey" in selected:
                    results["journey"] = measured
            if "waitlist" in selected:
                results["waitlist"] = await phase(
                    "waitlist", journey.waitlist_burst(system, driver, args.waitlist_trios, timeout, top)
                )
            if "curve" in selected:
                results["curve"] = {
                    kind: await phase(
                        f"curve-{kind}",
                        curve.curve(
                            system, driver, args.curve, args.curve_window, timeout, top, waitlist=kind == "waitlist"
                        ),
                    )
                    for kind in ("placed", "waitlist")
                }
            if "steady" in selected:
                results["steady"] = await phase(
                    "steady", steady.steady(system, driver, open_edition, args.rate, args.seconds, timeout, top)
                )
                pressure = steady.steady(
                    system,
                    driver,
                    open_edition,
                    args.pressure_rate,
                    args.pressure_seconds,
                    timeout,
                    top,
                    watch_queues=True,
                )
                results["pressure"] = await timed(results, "pressure", pressure)
            results["peak_rss_mb"] = system.peak_rss_mb()
            recorded = dict(driver.raw)
    finally:
        await system.stop()
        smtp.stop()
    if "replicas" in selected:
        replicated = measure_replicas(args, workdir / "replicas", recorded, journey_edition)
        results["replicas"] = await timed(results, "replicas", replicated)
    if "shutdown" in selected:
        stopping = shutdown.under_backlog(
            workdir,
            recorded["TrioRegistered"][: args.shutdown_trios],
            recorded["EditionScheduled"],
            args.shutdown_smtp_latency_ms,
            timeout,
        )
        results["shutdown"] = await timed(results, "shutdown", stopping)
    if args.compare_pretix:
        results["pretix"] = await compare_pretix(args, workdir, results)
    return results


async def timed(results: dict[str, Any], name: str, work: Awaitable[T]) -> T:
    """The phase's result; how long it took (wall clock, set-up and draining included) goes to stderr and the
    JSON's `wall_seconds`, so a small run shows where its time went."""
    started = time.time()
    try:
        return await work
    finally:
        took = round(time.time() - started, 1)
        results.setdefault("wall_seconds", {})[name] = took
        print(f"bench: {name} took {took} s", file=sys.stderr, flush=True)


async def measure_replicas(
    args: argparse.Namespace, workdir: Path, recorded: dict[str, list[Any]], edition: dict[str, Any]
) -> dict[str, Any]:
    registered = [m for m in recorded["TrioRegistered"] if data_of(m).get("edition") == edition["edition"]]
    registered = registered[: args.replica_trios]
    ids = {data_of(m)["registration_id"] for m in registered}
    approved = [m for m in recorded["RegistrationApproved"] if data_of(m)["registration_id"] in ids]
    editions = recorded["EditionScheduled"]
    return {
        "notifications": await replicas.notifications_scaling(
            workdir,
            recorded["TrioRegistered"][: 2 * args.scaling_trios],  # half to one replica, half to two
            editions,
            args.smtp_latency_ms,
            args.timeout,
            args.smtp_concurrency,
        ),
        "registration": await replicas.registration_scaling(workdir, editions[0], args.replica_trios, args.timeout),
        "scheduling": await replicas.scheduling_scaling(workdir, edition, registered, approved, args.timeout),
    }


async def compare_pretix(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> dict[str, Any]:
    # bench/pretix.py is written separately (it installs and runs pretix): the bench runs without it.
    pretix = importlib.import_module("bench.pretix")

    smtp = await SmtpServer(workdir / "pretix-mails.jsonl").start()
    try:
        measured = await pretix.measure(
            workdir / "pretix", smtp, args.register_trios, args.rate, args.seconds, args.timeout
        )
    finally:
        smtp.stop()
    per_s = measured["orders_per_s"]

    def against(phase: str) -> float | None:
        ours = results.get(phase, {}).get("trios_per_s")
        return round(ours / per_s, 2) if ours and per_s else None

    return measured | {"ratio_journey": against("journey"), "ratio_register": against("register")}


async def measure_ceiling(messages: int, size: int) -> dict[str, Any]:
    """On a vhost of its own, so nothing of the services' traffic shares its queue."""
    vhost = create_vhost()
    try:
        return await ceiling.measure(amqp_url(vhost), messages=messages, size=size)
    finally:
        delete_vhost(vhost)


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    results = asyncio.run(run(args))
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nwritten to {args.output}; service logs in {results['logs']}")


if __name__ == "__main__":
    main()
