"""A steady stream of registrations through the four services, and the books kept on it during a fault.

Every figure comes from what a front end and a mail server can see: the events exchange (a Bus binding), the
SMTP server's mailbox and the services' HTTP APIs. A mail is identified by its Message-ID, which notifications
derives from the notification_id, itself derived from the causing event's event_id: so the test knows exactly
which mails each observed event must produce.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from services.notifications.domain import normalise_address, notification_id
from shared.db import utcnow
from tests.e2e.conftest import ORGANIZER_TOKEN
from tests.factories import ORGANISER, open_edition, trio
from tests.support import Bus, ServiceProcess, SmtpSink, wait_until

MAX_TRIOS = 12
ORGANIZER = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
# Mails a trio gets once, whatever happens: (kind, the event that causes it).
ONCE = (("acknowledgement", "TrioRegistered"), ("approved", "RegistrationApproved"), ("placed", "TrioPlaced"))
FACTS = ("TrioRegistered", "ApprovalRequested", "RegistrationApproved", "TrioPlaced")
NAMESPACE = uuid.UUID("6b0c2f7e-0d7a-4c3e-9a55-1f3e2b8c9d01")


def edition_body() -> dict[str, Any]:
    """Open for registration with the deadline passed, so every approved trio is placed or waitlisted at once;
    sessions months away, so no reminder falls due during the test."""
    now = utcnow()
    body = open_edition(f"faults-{uuid.uuid4().hex[:8]}", capacity={"min_trios": 6, "max_trios": MAX_TRIOS})
    body["registration_deadline"] = (now - timedelta(hours=1)).isoformat()
    body["registration_closes_at"] = (now + timedelta(days=1)).isoformat()
    for index, session in enumerate(body["sessions"]):
        starts = now + timedelta(days=60 + 30 * index)
        session["starts_at"], session["ends_at"] = starts.isoformat(), (starts + timedelta(hours=4)).isoformat()
    return body


@dataclass
class Sent:
    command_id: str
    body: dict[str, Any]

    @property
    def members(self) -> list[str]:
        return [normalise_address(m["email"]) for m in self.body["members"]]

    @property
    def approver(self) -> str:
        return normalise_address(self.body["approver"]["email"])


@dataclass
class Books:
    """What the exchange and the mailbox show for the stream's trios at one moment."""

    registration_ids: dict[str, str] = field(default_factory=dict)  # command_id -> registration_id
    complete: set[str] = field(default_factory=set)  # command_ids whose trio is final and fully mailed
    final: dict[str, str] = field(default_factory=dict)  # registration_id -> placed | waitlisted
    missing_events: list[str] = field(default_factory=list)
    missing_mails: list[str] = field(default_factory=list)
    duplicate_facts: list[str] = field(default_factory=list)  # one fact announced under two event_ids
    event_copies: int = 0  # the same event_id on the exchange more than once (absorbed by the inboxes)
    copies_by_type: dict[str, int] = field(default_factory=dict)
    duplicate_mails: list[str] = field(default_factory=list)
    # Outcomes a front end cannot match to its command: correlation_id is not the command's message_id.
    uncorrelated: list[str] = field(default_factory=list)
    unexpected_mails: list[str] = field(default_factory=list)
    mails: int = 0
    events: int = 0


class Stream:
    def __init__(self, bus: Bus, smtp: SmtpSink, slug: str, interval: float = 0.4) -> None:
        self.bus, self.smtp, self.slug, self.interval = bus, smtp, slug, interval
        self.sent: list[Sent] = []
        self.completed_at: dict[str, float] = {}
        self._enough = asyncio.Event()
        self._approved: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # Driving

    async def start(self) -> None:
        """The first trio waits until registration knows the edition; the rest follow at a steady rate."""
        for _ in range(100):
            command_id = str(uuid.uuid4())
            body = trio(self.slug)
            await self.bus.send("registration.RegisterTrio", body, message_id=command_id)
            outcome = await wait_until(
                lambda c=command_id: (
                    self.bus.of("TrioRegistered", correlation_id=c) or self.bus.of("CommandRejected", correlation_id=c)
                ),
                what="RegisterTrio outcome",
            )
            if outcome[0]["type"] == "TrioRegistered":
                self.sent.append(Sent(command_id, body))
                break
            assert [e["code"] for e in outcome[0]["data"]["errors"]] == ["unknown_edition"], outcome[0]["data"]
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("registration never learnt of the edition")
        self._tasks = [asyncio.create_task(self._approve()), asyncio.create_task(self._watch())]

    async def send(self, minimum: int, maximum: int) -> None:
        """Register trios until the fault is over (`enough`) and at least `minimum` were sent, at most `maximum`."""
        while len(self.sent) < maximum and not (self._enough.is_set() and len(self.sent) >= minimum):
            command_id, body = str(uuid.uuid4()), trio(self.slug)
            self.sent.append(Sent(command_id, body))
            await self.bus.send("registration.RegisterTrio", body, message_id=command_id)
            await asyncio.sleep(self.interval)  # the stream's rate itself, not a wait for a condition

    def enough(self) -> None:
        self._enough.set()

    async def _approve(self) -> None:
        """The organiser approves each trio as soon as it is registered (one command per trio, however often)."""
        while True:
            for rid in self.books().registration_ids.values():
                if rid not in self._approved:
                    self._approved.add(rid)
                    await self.bus.send(
                        "registration.ApproveRegistration",
                        {"registration_id": rid, "by_organizer": True, "actor": ORGANISER},
                        message_id=str(uuid.uuid5(NAMESPACE, rid)),
                    )
            await asyncio.sleep(0.1)

    async def _watch(self) -> None:
        """Note when each trio is complete, for the time to recover."""
        while True:
            now = time.monotonic()
            for command_id in self.books().complete:
                self.completed_at.setdefault(command_id, now)
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_complete(self, timeout: float) -> bool:
        try:
            await wait_until(
                lambda: len(self.books().complete) == len(self.sent),
                timeout=timeout,
                interval=0.25,
                what="every trio final and mailed",
            )
            return True
        except AssertionError:
            return False

    def snapshot(self) -> dict[str, Any]:
        books = self.books()
        return {
            "sent": len(self.sent),
            "complete": len(books.complete),
            "in_flight": [s.command_id for s in self.sent if s.command_id not in books.complete],
        }

    # Counting

    def books(self) -> Books:
        books = Books()
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        copies: Counter[str] = Counter()
        types: dict[str, str] = {}
        for event in list(self.bus.events):
            by_type[event["type"]].append(event)
        # Found by the members' addresses (unique per trio), so a lost correlation is told apart from a loss.
        by_address = {s.members[0]: s.command_id for s in self.sent}
        registered: dict[str, set[str]] = defaultdict(set)
        for event in by_type["TrioRegistered"]:
            command_id = by_address.get(normalise_address(event["data"]["members"][0]["email"]))
            if command_id is None:
                continue
            books.registration_ids.setdefault(command_id, event["data"]["registration_id"])
            registered[command_id].add(event["data"]["registration_id"])
            if event["correlation_id"] != command_id:
                books.uncorrelated.append(
                    f"TrioRegistered {event['data']['registration_id']} has correlation_id "
                    f"{event['correlation_id']}, its command's message_id is {command_id}"
                )
        rids = set(books.registration_ids.values())
        facts: dict[tuple[str, str], set[str]] = defaultdict(set)
        latest_wait: dict[str, dict[str, Any]] = {}
        kinds: dict[str, str] = {}  # notification_id -> kind, for every mail an observed event may cause
        for name in (*FACTS, "TrioWaitlisted"):
            for event in by_type[name]:
                rid = event["data"]["registration_id"]
                if rid not in rids:
                    continue
                copies[event["event_id"]] += 1
                types[event["event_id"]] = name
                books.events += 1
                if name == "TrioWaitlisted":
                    facts[(f"TrioWaitlisted@{event['data']['position']}", rid)].add(event["event_id"])
                    if rid not in latest_wait or event["occurred_at"] > latest_wait[rid]["occurred_at"]:
                        latest_wait[rid] = event
                else:
                    facts[(name, rid)].add(event["event_id"])
        received = self._received()
        sent_events: dict[str, set[str]] = defaultdict(set)
        for event in by_type["NotificationSent"]:
            if event["data"]["notification_id"] not in received:
                continue
            sent_events[event["data"]["notification_id"]].add(event["event_id"])
            copies[event["event_id"]] += 1
            types[event["event_id"]] = "NotificationSent"
            books.events += 1
        books.duplicate_facts = [f"{name} {rid}" for (name, rid), ids in facts.items() if len(ids) > 1]
        books.duplicate_facts += [
            f"RegisterTrio {c} registered {len(r)} times" for c, r in registered.items() if len(r) > 1
        ]
        books.event_copies = sum(n - 1 for n in copies.values())
        books.copies_by_type = dict(Counter(types[e] for e, n in copies.items() for _ in range(n - 1)))
        for sent in self.sent:
            rid = books.registration_ids.get(sent.command_id)
            if rid is None:
                books.missing_events.append(f"TrioRegistered for command {sent.command_id}")
                continue
            expected, absent = self._expected(rid, sent, facts, latest_wait, kinds, books)
            missing = [nid for nid in expected if nid not in received]
            unannounced = [nid for nid in expected if nid in received and not sent_events.get(nid)]
            books.missing_events += absent + [f"NotificationSent {nid}" for nid in unannounced]
            books.missing_mails += [f"{kinds[nid]} {nid}" for nid in missing]
            if rid in books.final and not (missing or unannounced or absent):
                books.complete.add(sent.command_id)
        for nid, count in received.items():
            if nid not in kinds:
                books.unexpected_mails.append(nid)
            if count > 1:
                books.duplicate_mails.append(f"{kinds.get(nid, '?')} {nid} x{count}")
            if len(sent_events.get(nid, ())) > 1:
                books.duplicate_facts.append(f"NotificationSent {nid} x{len(sent_events[nid])}")
        books.mails = sum(received.values())
        return books

    @staticmethod
    def _expected(
        rid: str,
        sent: Sent,
        facts: dict[tuple[str, str], set[str]],
        latest_wait: dict[str, dict[str, Any]],
        kinds: dict[str, str],
        books: Books,
    ) -> tuple[list[str], list[str]]:
        """The notification_ids this trio must have received, as far as its events have come, and the events
        it is still missing. Notes in `kinds` every mail its observed events may cause."""
        expected: list[str] = []

        def mails(kind: str, event_ids: set[str], recipients: list[str], required: bool = True) -> None:
            for event_id in event_ids:
                for recipient in recipients:
                    kinds[notification_id(event_id, kind, recipient)] = kind
            # The first announcement must have been mailed; a second one is already a duplicate fact.
            if event_ids and required:
                expected.extend(notification_id(min(event_ids), kind, r) for r in recipients)

        for kind, name in ONCE:
            mails(kind, facts.get((name, rid), set()), sent.members)
        mails("approval_request", facts.get(("ApprovalRequested", rid), set()), [sent.approver])
        for (fact, r), ids in facts.items():
            if r == rid and fact.startswith("TrioWaitlisted@"):
                mails("waitlisted", ids, sent.members, required=False)
        if facts.get(("TrioPlaced", rid)):
            books.final[rid] = "placed"
        elif rid in latest_wait:
            books.final[rid] = "waitlisted"
            # Only the newest position is certain to be mailed: an older one may have been overtaken.
            expected.extend(notification_id(latest_wait[rid]["event_id"], "waitlisted", m) for m in sent.members)
        absent = [
            f"{name} {rid}" for name in ("ApprovalRequested", "RegistrationApproved") if not facts.get((name, rid))
        ]
        return expected, absent

    def _received(self) -> Counter[str]:
        """How often each mail (by notification_id) reached one of the stream's addresses."""
        received: Counter[str] = Counter()
        for nid, _, _ in self._mailbox():
            received[nid] += 1
        return received

    def _mailbox(self) -> list[tuple[str, str, str]]:
        addresses = {a for s in self.sent for a in (*s.members, s.approver)}
        found = []
        for recipients, message in list(self.smtp.messages):
            if any(normalise_address(r) in addresses for r in recipients):
                nid = str(message["Message-ID"]).strip("<> ").split("@", 1)[0]
                found.append((nid, ",".join(recipients), str(message["Subject"]).strip()))
        return found

    def describe(self, nids: list[str]) -> list[str]:
        """Recipient and subject of these mails, for a failure message."""
        wanted = set(nids)
        return [f"{nid} to {rcpt}: {subject}" for nid, rcpt, subject in self._mailbox() if nid in wanted]


# The services' own view, at the end


async def service_views(
    stream: Stream, scheduling: ServiceProcess, registration: ServiceProcess, reporting: ServiceProcess
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10, headers=ORGANIZER) as http:
        allocation = (await http.get(f"{scheduling.url}/api/editions/{stream.slug}/allocation")).json()
        registrations = (
            await http.get(f"{registration.url}/api/registrations", params={"edition": stream.slug})
        ).json()["registrations"]
        exported = (await http.get(f"{reporting.url}/dashboard/{stream.slug}/registrations.csv?sep=,")).text
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))[1:]
    return {
        "scheduling": {p["registration_id"]: "placed" for p in allocation.get("placed", [])}
        | {w["registration_id"]: "waitlisted" for w in allocation.get("waitlist", [])},
        "registration": {r["registration_id"]: r["status"] for r in registrations},
        "reporting": {
            row[0]: {"geplaatst": "placed", "op de wachtlijst": "waitlisted"}.get(row[2], row[2]) for row in rows if row
        },
    }


def queue_depths(vhost: str) -> dict[str, int]:
    """Messages (ready and unacknowledged) in each of the vhost's service, retry and dead-letter queues."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    depths = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("werkplaatsen.") and parts[1].isdigit():
            depths[parts[0]] = int(parts[1])
    return depths


async def outbox_pending(process: ServiceProcess) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{process.url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("werkplaatsen_outbox_pending{")
    )


async def mails_pending(notifications: ServiceProcess, registration_ids: list[str]) -> int:
    """Mails of these registrations that notifications has not yet recorded as sent (or failed)."""
    pending = 0
    async with httpx.AsyncClient(timeout=10, headers=ORGANIZER) as http:
        for rid in registration_ids:
            log = (await http.get(f"{notifications.url}/api/notifications", params={"registration_id": rid})).json()
            pending += sum(1 for n in log["notifications"] if n["status"] == "pending")
    return pending


# Readiness, observed from outside


@dataclass
class Readiness:
    """Polls /ready of the given processes; what each answered (a refused connection counts as not ready)."""

    processes: list[ServiceProcess]
    interval: float = 0.25
    samples: dict[int, list[tuple[float, bool]]] = field(default_factory=lambda: defaultdict(list))
    _task: asyncio.Task[None] | None = None

    def start(self) -> Readiness:
        self._task = asyncio.create_task(self._poll())
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                await asyncio.gather(*(self._probe(http, p) for p in self.processes))
                await asyncio.sleep(self.interval)

    async def _probe(self, http: httpx.AsyncClient, process: ServiceProcess) -> None:
        try:
            ok = (await http.get(f"{process.url}/ready")).status_code == 200
        except httpx.HTTPError:
            ok = False
        self.samples[process.port].append((time.monotonic(), ok))

    def not_ready_between(self, process: ServiceProcess, start: float, end: float) -> int:
        return sum(1 for t, ok in self.samples[process.port] if start <= t <= end and not ok)

    def ready_again(self, process: ServiceProcess, after: float) -> float | None:
        """The first moment after `after` from which the process answered ready every time since."""
        since = None
        for t, ok in self.samples[process.port]:
            if t < after:
                continue
            if ok and since is None:
                since = t
            elif not ok:
                since = None
        return since


# Figures


def record(name: str, figures: dict[str, Any], base: Path) -> Path:
    """Merge one fault's figures into the JSON file ($WERKPLAATSEN_FAULTS_REPORT, else faults.json in pytest's
    base temporary directory)."""
    path = Path(os.environ.get("WERKPLAATSEN_FAULTS_REPORT") or base / "faults.json")
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[name] = figures
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    return path
