"""pretix measured beside the project (issue 19): group orders of 3 attendees through its REST API, each attendee
mailed, timed to the bench's SMTP server. docs/pretix-comparison.md says what is measured and how.

    python -m bench.pretix [--orders 500] [--rate 10] [--seconds 30] [--timeout 600] [--workdir DIR]

`measure` is what `python -m bench --compare-pretix` calls with its own SMTP server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.pretix_instance import WORKERS, Pretix
from bench.scenarios import percentiles, tag_of
from bench.system import SmtpServer, machine
from tests.support import require_port, wait_until

MAILS_PER_ORDER = 3  # the order mail to the first attendee (who placed it) and one to each of the other two
IN_FLIGHT = 4  # burst orders sent at once: two per gunicorn worker, so neither waits for the next request


async def measure(
    workdir: Path, smtp: SmtpServer, orders: int, rate: float, seconds: float, timeout: float
) -> dict[str, Any]:
    """A fresh pretix (database, migrations, organizer, event, product, quota, API token, gunicorn), a burst of
    `orders` orders and `rate`/s for `seconds` s; pretix stopped and its database dropped afterwards, also on
    failure."""
    require_port("127.0.0.1", 5432, "PostgreSQL")
    workdir.mkdir(parents=True, exist_ok=True)
    steady_orders = max(1, int(rate * seconds))
    pretix = Pretix(workdir, smtp)
    try:
        # Room for everyone: the quota is checked on every order, as a real event's would be, but never runs out.
        await pretix.start(capacity=MAILS_PER_ORDER * (orders + steady_orders + 10))
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None), timeout=timeout) as client:
            await _warm_up(pretix, client)
            burst = await _burst(pretix, client, orders, timeout)
            steady = await _steady(pretix, client, rate, seconds, timeout)
        return {
            "version": pretix.version(),
            "setup": {
                "workers": WORKERS,
                "burst_in_flight": IN_FLIGHT,
                "migrate_seconds": pretix.migrate_seconds,
                "celery": "none: tasks (mails) run in the web process",
                "cache": "none (no redis, no memcached)",
            },
            **burst,
            "peak_rss_mb": pretix.peak_rss_mb(),
            "steady": steady,
        }
    finally:
        await pretix.stop()


def order_body(item: int, tag: str) -> dict[str, Any]:
    """Three attendees with their own addresses; the first places the order, so gets the order mail only."""
    members = [("a", "Anna", "Jansen"), ("b", "Bram", "de Vries"), ("c", "Cor", "Bakker")]
    return {
        "email": f"a.{tag}@bench.invalid",
        "locale": "en",
        "sales_channel": "web",
        "send_email": True,
        "positions": [
            {
                "item": item,
                "attendee_name_parts": {"given_name": given, "family_name": family},
                "attendee_email": f"{letter}.{tag}@bench.invalid",
            }
            for letter, given, family in members
        ],
    }


async def _place(pretix: Pretix, client: httpx.AsyncClient, tag: str) -> tuple[float, float]:
    """(sent, answered) times of one order; an order pretix refuses stops the measurement."""
    sent = time.time()
    response = await client.post(pretix.orders_url, json=order_body(pretix.api["item"], tag), headers=pretix.headers)
    if response.status_code != 201:
        raise RuntimeError(f"pretix refused an order ({response.status_code}): {response.text[:500]}")
    return sent, time.time()


def _mail_times(smtp: SmtpServer, tags: set[str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for mail in smtp.poll():
        tag = tag_of(mail["rcpt"][0])
        if tag in tags:
            times.setdefault(tag, []).append(mail["t"])
    return times


async def _all_mails(smtp: SmtpServer, tags: set[str], timeout: float, what: str) -> dict[str, list[float]]:
    def complete() -> dict[str, list[float]] | None:
        times = _mail_times(smtp, tags)
        return times if sum(map(len, times.values())) >= MAILS_PER_ORDER * len(tags) else None

    times: dict[str, list[float]] = await wait_until(complete, timeout=timeout, interval=0.05, what=what)
    return times


async def _warm_up(pretix: Pretix, client: httpx.AsyncClient) -> None:
    """A few orders first, so every worker has loaded its templates and opened its database connection."""
    tags = {f"pw{n}{uuid.uuid4().hex[:6]}" for n in range(2 * WORKERS)}
    await asyncio.gather(*(_place(pretix, client, tag) for tag in tags))
    await _all_mails(pretix.smtp, tags, 120, "warm-up mails")


class _Counters:
    """CPU of gunicorn and PostgreSQL, SQL statements and transactions, read before and after a phase."""

    def __init__(self, pretix: Pretix) -> None:
        self.pretix = pretix

    async def read(self) -> dict[str, Any]:
        await asyncio.sleep(0.5)  # the workers' statement counts are written five times a second
        postgres, backends = self.pretix.postgres_cpu()
        return {
            "gunicorn": self.pretix.gunicorn_cpu(),
            "postgres": postgres,
            "backends": backends,
            "sql": self.pretix.sql_statements(),
            "transactions": await self.pretix.transactions(),
        }

    @staticmethod
    def per_order(before: dict[str, Any], after: dict[str, Any], count: int) -> dict[str, Any]:
        own = sum(cpu - before["backends"].get(pid, 0.0) for pid, cpu in after["backends"].items())
        return {
            "cpu_ms_per_order": round((after["gunicorn"] - before["gunicorn"]) * 1000 / count, 1),
            "postgres_cpu_ms_per_order": round((after["postgres"] - before["postgres"]) * 1000 / count, 1),
            "postgres_own_backends_cpu_ms_per_order": round(own * 1000 / count, 1),
            "sql_statements_per_order": round((after["sql"] - before["sql"]) / count, 1),
            "transactions_per_order": round((after["transactions"] - before["transactions"]) / count, 1),
        }


async def _burst(pretix: Pretix, client: httpx.AsyncClient, orders: int, timeout: float) -> dict[str, Any]:
    counters = _Counters(pretix)
    before = await counters.read()
    tags = [f"pb{n:05d}{uuid.uuid4().hex[:4]}" for n in range(orders)]
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def place(tag: str) -> tuple[float, float]:
        async with slots:
            return await _place(pretix, client, tag)

    started = time.time()
    answered = await asyncio.gather(*(place(tag) for tag in tags))
    mails = await _all_mails(pretix.smtp, set(tags), timeout, "the burst's mails")
    finished = max(max(times) for times in mails.values())
    after = await counters.read()
    seconds = finished - started
    return {
        "orders": orders,
        "attendees": 3 * orders,
        "mails": sum(map(len, mails.values())),
        "seconds": round(seconds, 3),
        "orders_per_s": round(orders / seconds, 2),
        "answered_seconds": round(max(done for _, done in answered) - started, 3),
        **_Counters.per_order(before, after, orders),
    }


async def _steady(
    pretix: Pretix, client: httpx.AsyncClient, rate: float, seconds: float, timeout: float
) -> dict[str, Any]:
    """Orders on a fixed schedule (open loop: the next is sent on time whether or not pretix has answered)."""
    counters = _Counters(pretix)
    count = max(1, int(rate * seconds))
    before = await counters.read()
    tags = [f"ps{n:05d}{uuid.uuid4().hex[:4]}" for n in range(count)]
    started = time.time()
    placing = []
    for n, tag in enumerate(tags):
        delay = started + n / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule itself: this is the rate under test
        placing.append(asyncio.create_task(_place(pretix, client, tag)))
    answered = await asyncio.gather(*placing)
    mails = await _all_mails(pretix.smtp, set(tags), timeout, "the steady phase's mails")
    after = await counters.read()
    sent = [s for s, _ in answered]
    return {
        "rate": rate,
        "seconds": seconds,
        "orders": count,
        "achieved_rate": round((count - 1) / max(sent[-1] - started, 1e-9), 1) if count > 1 else rate,
        "to_answer_ms": percentiles([(done - s) * 1000 for s, done in answered]),
        "to_first_mail_ms": percentiles(
            [(min(mails[tag]) - s) * 1000 for tag, (s, _) in zip(tags, answered, strict=True)]
        ),
        "to_last_mail_ms": percentiles(
            [(max(mails[tag]) - s) * 1000 for tag, (s, _) in zip(tags, answered, strict=True)]
        ),
        **_Counters.per_order(before, after, count),
    }


def table(results: dict[str, Any]) -> str:
    s = results["steady"]
    rows = [
        ("pretix", f"{results['version']}, gunicorn {results['setup']['workers']} workers, PostgreSQL"),
        ("burst", f"{results['orders']} orders of 3 attendees, {results['mails']} mails in {results['seconds']} s"),
        ("burst orders/s (until every mail)", str(results["orders_per_s"])),
    ]
    for label, figures in (("burst", results), ("steady", s)):
        rows.append(
            (
                f"{label} CPU ms per order",
                f"gunicorn {figures['cpu_ms_per_order']}, PostgreSQL {figures['postgres_cpu_ms_per_order']} "
                f"(pretix's backends {figures['postgres_own_backends_cpu_ms_per_order']})",
            )
        )
        rows.append(
            (
                f"{label} SQL per order",
                f"{figures['sql_statements_per_order']} statements, {figures['transactions_per_order']} transactions",
            )
        )
    rows.append((f"steady {s['rate']}/s for {s['seconds']} s", f"achieved {s['achieved_rate']}/s"))
    for key, label in (
        ("to_answer_ms", "-> 201"),
        ("to_first_mail_ms", "-> first mail"),
        ("to_last_mail_ms", "-> last mail"),
    ):
        p = s[key]
        rows.append((f"latency {label} ms", f"p50 {p['p50']}  p95 {p['p95']}  p99 {p['p99']}  max {p['max']}"))
    for name, mb in results["peak_rss_mb"].items():
        rows.append((f"peak RSS {name}", f"{mb} MB"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pretix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="orders of 3 attendees in the burst (default 500)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders/s of the steady phase (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the steady phase (default 30)")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait of any phase, seconds")
    parser.add_argument("--workdir", help="pretix's config, data and logs (default: a new temporary directory)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="werkplaatsen-pretix-"))
    workdir.mkdir(parents=True, exist_ok=True)
    smtp = await SmtpServer(workdir / "mails.jsonl").start()
    try:
        results = await measure(workdir / "pretix", smtp, args.orders, args.rate, args.seconds, args.timeout)
    finally:
        smtp.stop()
    return {
        "machine": machine(),
        "command": "python -m bench.pretix " + " ".join(sys.argv[1:]),
        "logs": str(workdir),
        **results,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    results = asyncio.run(run(args))
    output = Path(results["logs"]) / "pretix-results.json"
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
