"""Turn pydantic validation errors into the contract's error objects, with Dutch messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.contract import ErrorItem


def field_path(loc: tuple[Any, ...]) -> str:
    """('members', 1, 'email') -> 'members[1].email'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def dutch_message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "Dit veld is verplicht."
    if kind == "extra_forbidden":
        return "Dit veld kennen we niet."
    if kind == "string_too_long":
        return f"Deze tekst is te lang (hoogstens {ctx.get('max_length')} tekens)."
    if kind == "string_too_short":
        return "Dit veld mag niet leeg zijn."
    if kind == "too_short":
        return f"Hier zijn er te weinig: minstens {ctx.get('min_length')} nodig."
    if kind == "too_long":
        return f"Hier zijn er te veel: hoogstens {ctx.get('max_length')} toegestaan."
    if kind == "enum" or kind == "literal_error":
        return f"Kies een van: {ctx.get('expected', '')}."
    if kind == "string_pattern_mismatch":
        return "Dit veld heeft niet de juiste vorm."
    if kind == "line_break_not_allowed":
        return "Dit veld moet op één regel: een regeleinde is hier niet toegestaan."
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return "Dit is geen geldig e-mailadres."
    if kind.startswith("datetime") or kind == "timezone_aware":
        return "Geef een datum en tijd met tijdzone (ISO 8601), bijvoorbeeld 2027-10-15T13:00:00+02:00."
    if kind in ("bool_type", "bool_parsing"):
        return "Hier hoort ja of nee (true/false)."
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "Hier hoort een geheel getal."
    if kind in ("greater_than_equal", "greater_than"):
        return f"Dit getal is te klein (minstens {ctx.get('ge', ctx.get('gt'))})."
    if kind == "string_type":
        return "Hier hoort tekst."
    if kind == "list_type":
        return "Hier hoort een lijst."
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "Hier hoort een object met velden."
    return "Deze waarde is ongeldig."


# Refusals of the contract's own types (shared/contract/common.py) that keep their code.
OWN_CODES = frozenset({"line_break_not_allowed"})


def error_code(error: ErrorDetails) -> str:
    if error["type"] == "value_error" and "email" in str(error.get("msg", "")).lower():
        return "invalid_email"
    if error["type"] in OWN_CODES:
        return error["type"]
    return "schema"


def validation_errors(exc: ValidationError) -> list[ErrorItem]:
    return [
        ErrorItem(field=field_path(tuple(e["loc"])), code=error_code(e), message=dutch_message(e))
        for e in exc.errors(include_url=False)[:50]
    ]
