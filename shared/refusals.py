"""What a front end shows of a refused RegisterTrio: every front end (the registration form and API, the chat bot)
hides the same reason, so none of them tells who is registered already (services/registration/enumeration.py
has the rule's why and the mail the member gets instead)."""

from __future__ import annotations

import hashlib
import hmac
import uuid

from shared.contract import ErrorItem
from shared.links import SecretKeys, newest

ALREADY_REGISTERED = "member_already_registered"


def only_already_registered(errors: list[ErrorItem]) -> bool:
    """A refusal the public answer hides: every reason is a member already registered."""
    return bool(errors) and all(e.code == ALREADY_REGISTERED for e in errors)


def public_errors(errors: list[ErrorItem]) -> list[ErrorItem]:
    """The reasons a registrant is shown."""
    return [e for e in errors if e.code != ALREADY_REGISTERED]


def stand_in_id(secret: SecretKeys, command_id: str) -> str:
    """The registration id answered for a hidden refusal: like a real one (a random-looking UUID4), the same for a
    repeated command, and not computable without the secret (so it cannot be told from a real one)."""
    digest = hmac.new(newest(secret).encode(), f"stand-in:{command_id}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
