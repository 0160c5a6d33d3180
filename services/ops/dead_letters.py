"""Dead letters as operators see them (`werkplaatsen dlq`): the queue operations are shared plumbing
(shared/messaging/dead_letters.py); this module shows them."""

from __future__ import annotations

import json

from shared.messaging.delivery import DeadLetter


def pretty_body(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return repr(body)


def summary(letters: list[DeadLetter]) -> str:
    if not letters:
        return "No dead letters."
    lines = [f"{'id':<40} {'routing key':<36} {'dead since':<25} reason"]
    for letter in letters:
        reason = " ".join(letter.reason.split())
        lines.append(
            f"{letter.id:<40} {letter.routing_key:<36} {letter.dead_at or '-':<25} "
            f"{reason[:100]}{'…' if len(reason) > 100 else ''}"
        )
    lines.append(f"{len(letters)} dead letter(s).")
    return "\n".join(lines)


def details(letter: DeadLetter) -> str:
    fields = [
        ("id", letter.id),
        ("message_id", letter.message_id),
        ("type", letter.message_type),
        ("routing key", letter.routing_key),
        ("exchange", letter.exchange or "(default)"),
        ("correlation_id", letter.correlation_id),
        ("dead since", letter.dead_at),
        ("reason", letter.reason),
    ]
    lines = [f"{name + ':':<16}{value if value is not None else '-'}" for name, value in fields]
    headers = {k: v for k, v in letter.headers.items() if k != "x-death"}
    lines.append(f"{'headers:':<16}{json.dumps(headers, default=str, ensure_ascii=False)}")
    lines.append("body:")
    lines.append(pretty_body(letter.body))
    return "\n".join(lines)
