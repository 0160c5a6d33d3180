"""Who may publish what on RabbitMQ: a broker user per service, front end and the operators, each with permissions
(configure, write and read: regular expressions on exchange and queue names) and topic permissions (regular
expressions on the routing keys it may publish to, and bind from, each topic exchange), made from the contract and
the services' consumes tables and applied through the management HTTP API (`werkplaatsen broker users`).

The broker enforces it, so a front end cannot give an organiser's command nor a service announce another's event,
whatever the code that runs under its user does. The table is explained in docs/broker-permissions.md.

What the permissions cannot narrow (a trade-off, written down there): whoever publishes to the default exchange
(`amq.default`, how replies and retries travel) may reach any queue; only the services and the operators may.
Each user that declares the two exchanges at start (every component does, so it can start first) holds configure on
them, which would also let it delete them.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from shared.contract import COMMANDS, COMMANDS_EXCHANGE, EVENTS, EVENTS_EXCHANGE
from shared.settings import SERVICES, SettingsError

NOTHING = "^$"
EXCHANGES = f"{re.escape(COMMANDS_EXCHANGE)}|{re.escape(EVENTS_EXCHANGE)}"
# Participants give these through a front end (the chat); every other command comes from the console.
PARTICIPANT_COMMANDS = ("registration.RegisterTrio", "registration.CancelRegistration")
# `werkplaatsen editions load`; dead letters are replayed through the default exchange.
OPERATOR_COMMANDS = ("scheduling.ScheduleEdition",)


def one_of(keys: Iterable[str]) -> str:
    """A regular expression that matches exactly these names."""
    names = sorted(keys)
    return "^(" + "|".join(re.escape(k) for k in names) + ")$" if names else NOTHING


@dataclass(frozen=True)
class BrokerUser:
    """The rights of one component's broker user (its name is the user in the component's WERKPLAATSEN_BROKER_URL)."""

    component: str
    configure: str
    write: str
    read: str
    commands: tuple[str, ...]  # routing keys it may publish on werkplaatsen.commands
    events: tuple[str, ...]  # routing keys it may publish on werkplaatsen.events
    binds_commands: tuple[str, ...] = ()  # routing keys its queue may be bound to on werkplaatsen.commands
    binds_events: bool = False  # whether its queue follows events

    def topic_permissions(self) -> dict[str, dict[str, str]]:
        return {
            COMMANDS_EXCHANGE: {"write": one_of(self.commands), "read": one_of(self.binds_commands)},
            EVENTS_EXCHANGE: {"write": one_of(self.events), "read": ".*" if self.binds_events else NOTHING},
        }

    def permissions(self) -> dict[str, str]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


def _own_queues(name: str) -> str:
    # The component's queue and its retry and dead-letter queues: werkplaatsen.<name>, werkplaatsen.<name>.<...>.
    return rf"werkplaatsen\.{re.escape(name)}(\..+)?"


def service_user(service: str) -> BrokerUser:
    consumed = importlib.import_module(f"services.{service}.consumes").CONSUMES
    own = _own_queues(service)
    return BrokerUser(
        component=service,
        configure=f"^({own}|{EXCHANGES})$",
        write=rf"^({own}|{re.escape(EVENTS_EXCHANGE)}|amq\.default)$",
        read=f"^({own}|{EXCHANGES})$",
        commands=(),
        events=tuple(key for key in EVENTS if key.startswith(f"{service}.")),
        binds_commands=tuple(line.routing_key for line in consumed if line.routing_key in COMMANDS),
        binds_events=True,
    )


def users() -> dict[str, BrokerUser]:
    """Every component's broker user, by component."""
    replies = r"werkplaatsen\.console\.replies\..+"
    chat = _own_queues("chat")
    # The operators' tools: a server-named reply queue (amq.gen-...), the dead-letter queues they list, replay
    # (through the default exchange) and purge.
    tools = r"amq\.gen-.+|werkplaatsen\.[a-z]+\.dlq"
    found: dict[str, BrokerUser] = {service: service_user(service) for service in SERVICES}
    found["console"] = BrokerUser(
        component="console",
        configure=f"^({replies}|{EXCHANGES})$",
        write=rf"^({replies}|{re.escape(COMMANDS_EXCHANGE)})$",
        read=f"^({replies}|{EXCHANGES})$",
        commands=tuple(key for key in COMMANDS if key not in ("registration.RegisterTrio",)),
        events=(),
    )
    found["chat"] = BrokerUser(
        component="chat",
        configure=f"^({chat}|{EXCHANGES})$",
        write=rf"^({chat}|{re.escape(COMMANDS_EXCHANGE)})$",
        read=f"^({chat}|{EXCHANGES})$",
        commands=PARTICIPANT_COMMANDS,
        events=(),
        binds_events=True,
    )
    found["operator"] = BrokerUser(
        component="operator",
        configure=f"^({tools}|{EXCHANGES})$",
        write=rf"^({tools}|{re.escape(COMMANDS_EXCHANGE)}|amq\.default)$",
        read=f"^({tools}|{EXCHANGES})$",
        commands=OPERATOR_COMMANDS,
        events=(),
    )
    return found


@dataclass(frozen=True)
class Account:
    """A component's user as its broker URL gives it."""

    user: str
    password: str
    vhost: str

    @classmethod
    def of(cls, url: str) -> Account:
        parts = urlsplit(url)
        if not parts.username or not parts.password:
            raise ValueError("the broker URL must name a user and a password")
        return cls(unquote(parts.username), unquote(parts.password), unquote(parts.path.lstrip("/")) or "/")


def configured(environ: Mapping[str, str]) -> tuple[str, dict[str, Account]]:
    """The management API's URL and the account of each component whose broker URL ENVIRON sets
    (WERKPLAATSEN_BROKER_ADMIN_URL, WERKPLAATSEN_BROKER_URL_<COMPONENT>); SettingsError naming what is wrong."""
    admin = environ.get("WERKPLAATSEN_BROKER_ADMIN_URL", "")
    if not admin.startswith(("http://", "https://")):
        raise SettingsError(
            "WERKPLAATSEN_BROKER_ADMIN_URL: not set (the management API, http://admin:pw@rabbitmq:15672)"
        )
    accounts = {}
    for component in users():
        name = f"WERKPLAATSEN_BROKER_URL_{component.upper()}"
        if url := environ.get(name):
            try:
                accounts[component] = Account.of(url)
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from None
    if not accounts:
        raise SettingsError("WERKPLAATSEN_BROKER_URL_<COMPONENT>: none set; nothing to do")
    return admin, accounts


async def apply(management_url: str, accounts: Mapping[str, Account], *, wait_seconds: float = 0) -> None:
    """Create or update each component's user with its password, permissions and topic permissions.

    `management_url` is the management API with an administrator's credentials (http://admin:pw@rabbitmq:15672);
    a component without an account is left alone (e.g. the chat bot where it is not deployed). It waits up to
    `wait_seconds` for the API to answer: in a fresh stack the broker takes its AMQP port before its management one."""
    parts = urlsplit(management_url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}/api"
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    table = users()
    unknown = set(accounts) - set(table)
    if unknown:
        raise ValueError(f"no broker user is defined for {', '.join(sorted(unknown))}")
    async with httpx.AsyncClient(timeout=10) as http:
        await _wait_until_up(http, auth, base, wait_seconds)
        for component, account in accounts.items():
            rights = table[component]
            user, vhost = quote(account.user, safe=""), quote(account.vhost, safe="")
            await _put(http, auth, f"{base}/vhosts/{vhost}", {})
            await _put(http, auth, f"{base}/users/{user}", {"password": account.password, "tags": ""})
            await _put(http, auth, f"{base}/permissions/{vhost}/{user}", rights.permissions())
            for exchange, topic in rights.topic_permissions().items():
                await _put(http, auth, f"{base}/topic-permissions/{vhost}/{user}", {"exchange": exchange, **topic})


async def _wait_until_up(http: httpx.AsyncClient, auth: tuple[str, str], base: str, wait_seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            if (await http.get(f"{base}/overview", auth=auth)).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() >= deadline:
            raise RuntimeError(f"the RabbitMQ management API at {base} does not answer")
        await asyncio.sleep(2)


async def _put(http: httpx.AsyncClient, auth: tuple[str, str], url: str, body: dict[str, Any]) -> None:
    response = await http.put(url, json=body, auth=auth)
    if response.status_code not in (200, 201, 204):
        raise RuntimeError(f"RabbitMQ refused {url.split('/api/', 1)[1]}: {response.status_code} {response.text[:200]}")


def markdown_table() -> str:
    """The table of docs/broker-permissions.md, as the code makes it (a test keeps the document current)."""
    lines = [
        "| user | may publish on `werkplaatsen.commands` | may publish on `werkplaatsen.events` | "
        "default exchange (replies, retries) |",
        "|---|---|---|---|",
    ]
    for component, user in users().items():
        commands = ", ".join(f"`{k}`" for k in sorted(user.commands)) or "nothing"
        events = f"its own (`{component}.*`, {len(user.events)})" if user.events else "nothing"
        default = "yes" if "amq\\.default" in user.write else "no"
        lines.append(f"| `werkplaatsen-{component}` | {commands} | {events} | {default} |")
    return "\n".join(lines) + "\n"
