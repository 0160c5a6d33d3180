"""Generated bodies for commands: valid ones per routing key, and hypothesis strategies that break them in
every way a front end, a broken client or an attacker might: random JSON, wrong types, huge strings, deep
nesting, invalid UTF-8, missing and extra fields, wrong content types and odd message properties."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from shared.contract import COMMANDS
from shared.db import utcnow
from tests import factories

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Targets:
    """What exists in the services under fuzz, so broken variants of valid commands reach the handlers' writes."""

    open_edition: str = "fuzz-edition"
    held_edition: str = "fuzz-edition"
    registration_ids: tuple[str, ...] = ()


def valid_body(routing_key: str, targets: Targets = Targets(), pick: int = 0) -> dict[str, Any]:
    """A body each command accepts as to its schema (the service may still refuse it, e.g. when its registration
    was cancelled by an earlier example). `pick` chooses among the known registrations."""
    ids = targets.registration_ids
    rid = ids[pick % len(ids)] if ids else str(uuid.uuid4())
    held = targets.held_edition
    start = utcnow() + timedelta(days=40)
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "registration.RegisterTrio": lambda: factories.trio(targets.open_edition),
        "registration.ApproveRegistration": lambda: {"registration_id": rid, "token": "not-a-token"},
        "registration.DeclineRegistration": lambda: {
            "registration_id": rid,
            "by_organizer": True,
            "reason": "Geen budget dit jaar.",
            "actor": factories.ORGANISER,
        },
        "registration.CancelRegistration": lambda: {"registration_id": rid, "reason": "Ziek."},
        "registration.EraseParticipantData": lambda: {"registration_id": rid},
        "registration.RegisterPayment": lambda: {
            "invoice_number": "WP-2027-0001",
            "amount_cents": 20000,
            "paid_at": utcnow().isoformat(),
            "reference": "NL12BANK",
        },
        "registration.ReplaceMember": lambda: {
            "registration_id": rid,
            "member_index": 1,
            "member": {
                "name": "Noor El Amrani",
                "email": f"noor.{uuid.uuid4().hex[:6]}@fuzz.example",
                "role": "sectorambtenaar",
                "domain": "fysiek",
            },
            "reason": "Van functie gewisseld.",
            "actor": factories.ORGANISER,
        },
        "registration.CorrectRegistration": lambda: {
            "registration_id": rid,
            "case": {**factories.trio(targets.open_edition)["case"], "title": "Gecorrigeerde titel"},
            "reason": "Tikfout in de titel.",
            "actor": factories.ORGANISER,
        },
        "scheduling.ScheduleEdition": lambda: factories.open_edition(f"fuzz-{uuid.uuid4().hex[:8]}"),
        "scheduling.CloseRegistration": lambda: {"edition": held},
        "scheduling.PlanSeating": lambda: {"edition": held},
        "scheduling.RescheduleSession": lambda: {
            "edition": held,
            "session_number": 1,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=4)).isoformat(),
        },
        "scheduling.RecordAttendance": lambda: {"edition": held, "session_number": 1, "present": [rid]},
        "scheduling.CompleteSession": lambda: {"edition": held, "session_number": 1, "notes": factories.notes()},
        "scheduling.PlaceTrio": lambda: {"edition": held, "registration_id": rid, "reason": "Sterke casus."},
        "scheduling.MoveOnWaitlist": lambda: {
            "edition": held,
            "registration_id": rid,
            "position": 1,
            "reason": "Afspraak met de wethouder.",
        },
        "scheduling.ReopenRegistration": lambda: {"edition": held},
        "scheduling.StopRegistration": lambda: {
            "edition": held,
            "reason": "De zaal is kleiner.",
            "actor": factories.ORGANISER,
        },
        "reporting.RetractReport": lambda: {"edition": held, "session_number": 1},
        "reporting.MarkFalsePositive": lambda: {"edition": held, "phrase": "Bakker", "actor": factories.ORGANISER},
        "registration.IssueCreditNote": lambda: {
            "invoice_number": "WP-2027-0001",
            "reason": "Dubbel gefactureerd.",
            "actor": factories.ORGANISER,
        },
        "registration.ResendInvoice": lambda: {"invoice_number": "WP-2027-0001", "actor": factories.ORGANISER},
        "notifications.SendAnnouncement": lambda: {
            "edition": held,
            "audience": "placed",
            "subject": "Praktische informatie",
            "text": "Neem je casus mee.",
        },
        "notifications.ResendNotification": lambda: {"notification_id": str(uuid.uuid4())},
        "reporting.PublishReport": lambda: {"edition": held, "session_number": 1},
        "reporting.ReviseReport": lambda: {"edition": held, "session_number": 1, "notes": factories.notes()},
    }
    missing = set(COMMANDS) - set(bodies)
    assert not missing, f"no valid body for {missing}: add one so the new command is fuzzed too"
    return factories.by_organiser(routing_key, bodies[routing_key]())


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON document (not the root)."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(paths(item, (*prefix, index)))
    return found


def containers(value: Any, prefix: Path = ()) -> list[Path]:
    """Every object in a JSON document, the root included."""
    found = [prefix] if isinstance(value, dict) else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(containers(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(containers(item, (*prefix, index)))
    return found


def at(document: Any, path: Path) -> Any:
    for part in path:
        document = document[part]
    return document


def replaced(document: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    at(changed, path[:-1])[path[-1]] = value
    return changed


def without(document: dict[str, Any], path: Path) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent = at(changed, path[:-1])
    del parent[path[-1]]
    return changed


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Values that break assumptions further down: SQL integer ranges, NUL (PostgreSQL text refuses it), lone
# surrogates (not encodable as UTF-8), right-to-left and zero-width marks, markup, and JSON's own oddities.
nasty_scalars = st.sampled_from(
    [
        2**63,
        -(2**63) - 1,
        10**40,
        0,
        -1,
        1e308,
        -0.0,
        "",
        " ",
        "\u0000",
        "a\u0000b",
        "\ud800",
        "\udfff x",
        "\u202eevil",
        "\u200b",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "../../etc/passwd",
        "%s%n",
        "GM0000",
        "x" * 5000,
        True,
        [],
        {},
        [None],
        {"": None},
    ]
)


def typed_differently(original: Any) -> st.SearchStrategy[Any]:
    """A JSON value of another type than `original`."""
    kinds = {
        bool: st.booleans(),
        int: st.integers(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: st.text(max_size=20),
        list: st.lists(json_scalars, max_size=3),
        dict: st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
        type(None): st.none(),
    }
    own = type(original)
    return st.one_of(*[s for kind, s in kinds.items() if kind is not own and not (own is int and kind is bool)])


def deep(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


@st.composite
def bad_command(draw: st.DrawFn, routing_key: str, targets: Targets = Targets()) -> tuple[str, bytes, dict[str, Any]]:
    """(kind, body, AMQP properties) for one broken message of `routing_key`."""
    body = valid_body(routing_key, targets, draw(st.integers(0, 10)))
    kind = draw(st.sampled_from(KINDS))
    props: dict[str, Any] = {"message_id": str(uuid.uuid4()), "content_type": draw(st.sampled_from(CONTENT_TYPES))}
    all_paths = paths(body)
    if kind == "random_json":
        raw = json.dumps(draw(json_values)).encode()
    elif kind == "random_bytes":
        raw = draw(st.binary(max_size=200))
    elif kind == "wrong_type":
        path = draw(st.sampled_from(all_paths))
        raw = json.dumps(replaced(body, path, draw(typed_differently(at(body, path))))).encode()
    elif kind == "nasty_value":
        path = draw(st.sampled_from(all_paths))
        raw = json.dumps(replaced(body, path, draw(nasty_scalars))).encode()
    elif kind == "huge_string":
        path = draw(st.sampled_from(all_paths))
        size = draw(st.sampled_from([70_000, 400_000, 2_000_000]))
        raw = json.dumps(replaced(body, path, draw(st.characters()) * size)).encode()
    elif kind == "huge_list":
        path = draw(st.sampled_from(all_paths))
        raw = json.dumps(replaced(body, path, [draw(json_scalars)] * draw(st.sampled_from([1_000, 100_000])))).encode()
    elif kind == "deep_nesting":
        path = draw(st.sampled_from(all_paths))
        marker = '"__deep__"'
        text = json.dumps(replaced(body, path, "__deep__"))
        depth = draw(st.sampled_from([40, 300, 2_000, 100_000]))
        raw = text.replace(marker, deep(depth, draw(st.sampled_from(["[", '{"a":']))), 1).encode()
    elif kind == "invalid_utf8":
        text = json.dumps(body).encode()
        cut = draw(st.integers(0, len(text)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        raw = text[:cut] + junk + text[cut:]
    elif kind == "lone_surrogate":
        path = draw(st.sampled_from([p for p in all_paths if isinstance(at(body, p), str)] or all_paths))
        raw = json.dumps(replaced(body, path, "abc\ud800def")).encode()
    elif kind == "missing_field":
        raw = json.dumps(without(body, draw(st.sampled_from(all_paths)))).encode()
    elif kind == "extra_field":
        where = draw(st.sampled_from(containers(body)))
        changed = copy.deepcopy(body)
        at(changed, where)[draw(st.text(min_size=1, max_size=20))] = draw(json_values)
        raw = json.dumps(changed).encode()
    elif kind == "not_an_object":
        raw = json.dumps(draw(st.lists(json_scalars, max_size=3) | json_scalars)).encode()
    elif kind == "json_oddities":
        raw = draw(
            st.sampled_from(
                [
                    b"NaN",
                    b'{"edition": Infinity}',
                    b"",
                    b" ",
                    b"\xef\xbb\xbf{}",
                    b"{}{}",
                    b'{"a": 1, "a": 2}',
                    b'"\\ud800"',
                    b'{"edition": 1e999}',
                ]
            )
        )
    else:  # odd_properties: a valid body with message properties a client got wrong
        raw = json.dumps(body).encode()
        props.update(
            draw(
                st.sampled_from(
                    [
                        {"message_id": None},
                        {"message_id": ""},
                        {"message_id": "x" * 255},
                        {"correlation_id": "c" * 255},
                        {"reply_to": "amq.gen-" + "r" * 240},
                    ]
                )
            )
        )
    return kind, raw, props


KINDS = (
    "random_json",
    "random_bytes",
    "wrong_type",
    "nasty_value",
    "huge_string",
    "huge_list",
    "deep_nesting",
    "invalid_utf8",
    "lone_surrogate",
    "missing_field",
    "extra_field",
    "not_an_object",
    "json_oddities",
    "odd_properties",
)
CONTENT_TYPES = (
    None,
    "application/json",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "application/json; charset=latin-1",
    "multipart/form-data",
)


def corpus(routing_key: str, targets: Targets = Targets()) -> list[tuple[str, bytes, dict[str, Any]]]:
    """A fixed sample of the worst of each kind, for measurements that must compare like with like."""
    body = valid_body(routing_key, targets)
    text = json.dumps(body)
    first = next(iter(body))
    props = {"message_id": None, "content_type": "application/json"}
    samples = [
        ("huge_string", json.dumps({**body, first: "ä" * 2_000_000}).encode()),
        ("huge_list", json.dumps({**body, first: [0] * 20_000}).encode()),
        ("deep_nesting", text.replace("{", '{"deep": ' + deep(100_000, "["), 1).encode()),
        ("deep_nesting", json.dumps({**body, first: "__deep__"}).replace('"__deep__"', deep(300, "[")).encode()),
        ("invalid_utf8", text.encode()[:10] + b"\xff\xfe" + text.encode()[10:]),
        ("random_bytes", bytes(range(256)) * 4),
        ("extra_field", json.dumps({**body, "x" * 1000: {"y": ["z"] * 100}}).encode()),
        ("not_an_object", b"[" + b"1," * 10_000 + b"1]"),
    ]
    return [(kind, raw, {**props, "message_id": str(uuid.uuid4())}) for kind, raw in samples]
