"""What counts as a useful refusal: a stable code, a Dutch message, and the field it is about."""

from __future__ import annotations

import re
from typing import Any

from shared.contract import COMMANDS, ErrorItem

CODE = re.compile(r"[a-z][a-z0-9_]{1,59}")
DUTCH = frozenset(
    """de het een is niet dit deze geen hier moet van te kies veld bericht geldig hoort mag zijn voor
met op of wordt kennen verplicht we tekst datum lijst getal waarde object velden ongeldig bestaat editie aanmelding
sessie trio gemeente verslag leden lid al nog kan ja nee""".split()
)
ENGLISH = re.compile(r"Input should|Field required|value is not|Extra inputs|validation error", re.IGNORECASE)


def looks_dutch(message: str) -> bool:
    words = set(re.findall(r"[a-zà-ÿ]+", message.lower()))
    return bool(words & DUTCH) and not ENGLISH.search(message)


def useless(error: ErrorItem, routing_key: str, sent: Any) -> str | None:
    """Why `error` would not help whoever sent the message; None when it does."""
    if not CODE.fullmatch(error.code):
        return f"code {error.code!r} is not a stable snake_case code"
    if not error.message.strip() or not looks_dutch(error.message):
        return f"message {error.message!r} is not a Dutch explanation"
    known = {_bare(k) for k in (*COMMANDS[routing_key].model_fields, "message_id", "token")}
    if isinstance(sent, dict):
        known |= {_bare(str(key)) for key in sent}
    field = _bare(error.field)
    if field and not any(field == k or field.startswith((f"{k}.", f"{k}[")) for k in known):
        return f"field {error.field!r} names nothing in the command"
    return None


def _bare(text: str) -> str:
    # Error objects strip surrounding whitespace, as every contract text; a key sent with control characters
    # around it is reported without them.
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f]", "", text)
