"""Reading a posted form, and the command message a page carries out for it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import Response

from shared.contract import message_name
from shared.messaging.messages import Incoming

from ..approval_limits import CLIENT_HEADER
from ..entrypoints import read_body
from .rendering import page

MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200


class BadForm(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def read_form(request: Request) -> MultiDict:
    """The url-encoded form in the body; BadForm with the page to answer when it is too large or unreadable."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadForm(
            page(
                "problem.html",
                415,
                title="Dit formulier kunnen we niet lezen",
                text="Verstuur het formulier vanuit de pagina zelf.",
            )
        )
    body = await read_body(request, MAX_BODY_BYTES)
    if body is None:
        raise BadForm(
            page(
                "problem.html",
                413,
                title="Dit is te veel tekst",
                text="Wat je verstuurde is groter dan 64 KiB. Maak de beschrijvingen korter en probeer het opnieuw.",
            )
        )
    try:
        return MultiDict(
            parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, strict_parsing=False
            )
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm(
            page(
                "problem.html",
                400,
                title="Dit formulier kunnen we niet lezen",
                text="Verstuur het formulier vanuit de pagina zelf.",
            )
        ) from None


def client_headers(request: Request) -> dict[str, str]:
    """The client's address for the command's per-client limits (approval_limits.CLIENT_HEADER)."""
    return {CLIENT_HEADER: request.client.host} if request.client else {}


def command_message(
    routing_key: str, body: dict[str, Any], message_id: str, headers: Mapping[str, Any] | None = None
) -> Incoming:
    return Incoming(
        body=json.dumps(body).encode(),
        routing_key=routing_key,
        message_id=message_id,
        correlation_id=message_id,
        message_type=message_name(routing_key),
        content_type="application/json",
        headers=headers or {},
    )
