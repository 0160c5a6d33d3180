"""The code that binds a chat room to a registration: made by notifications for the members' acknowledgement mail
(only for a trio registered from a chat room), read by the chat front end when someone pastes it into that room.

A room is bound to a registration only by this code, never by the room id a command or event names: the room id
is whatever the registering client gave (anyone may post `chat_id` with a registration), so only a member who got
the mail can prove the room is the trio's. The code carries the registration and the room it was made for, signed
for its own purpose (shared/links.py), so it binds that room only and is worthless as a status or approval link.
"""

from __future__ import annotations

import json

from .links import LinkInvalid, SecretKeys, sign, unsign

PURPOSE = "chat"
# As long as the status link: a member may start following the trio in the chat any time it can matter.
MAX_AGE_SECONDS = 730 * 24 * 3600


def binding_code(secret: SecretKeys, registration_id: str, room_id: str) -> str:
    return sign(secret, PURPOSE, json.dumps([registration_id, room_id]))


def read_binding_code(secret: SecretKeys, code: str) -> tuple[str, str]:
    """(registration id, room id) the code was made for; LinkInvalid or LinkExpired as shared/links.py says."""
    value = unsign(secret, PURPOSE, code.strip(), max_age_seconds=MAX_AGE_SECONDS)
    try:
        registration_id, room_id = json.loads(value)
    except (ValueError, TypeError) as exc:  # signed by us, so only a changed format gets here
        raise LinkInvalid(PURPOSE) from exc
    if not isinstance(registration_id, str) or not isinstance(room_id, str):
        raise LinkInvalid(PURPOSE)
    return registration_id, room_id
