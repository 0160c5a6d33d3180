"""Mail to an edition's participants: the page (write, "Voorbeeld" as one recipient of the audience would read it,
"Versturen") and the API operation. Sending publishes notifications' SendAnnouncement through acting.perform, so
it carries the organiser as actor and is in the audit log; notifications sends one mail per member, once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.contract.notifications import SendAnnouncement
from shared.messaging.errors import validation_errors

from .access import Caller, require
from .acting import BadBody, answer, parse_body, perform, read
from .openapi import Operation, command_body
from .rendering import api_errors
from .screens import Refused, admin_page, posted

Announcement: Final = command_body(SendAnnouncement, "Announcement")
AUDIENCES: Final = {"placed": "De geplaatste trio's", "waitlisted": "De trio's op de wachtlijst"}
FIELDS: Final = ("audience", "subject", "text", "text_en")


class AnnouncementSent(BaseModel):
    status: str = Field(description="`accepted`, or `pending` when notifications has not answered yet (202).")
    announcement_id: str | None = None
    recipients: str | None = Field(default=None, description="How many mails were queued.")


def subject_of(slug: str) -> str:
    return f"edition:{slug}/mail"


async def known_edition(request: Request, slug: str) -> bool:
    return (await read(request, "scheduling", f"/api/editions/{slug}")).found


async def send_mail(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "mail.send", slug)
    try:
        command = await parse_body(request, SendAnnouncement, edition=slug)
    except BadBody as bad:
        return bad.response
    if not await known_edition(request, slug):
        return api_errors("unknown_edition", "Deze editie bestaat niet.", 404, field="slug")
    outcome = await perform(request, caller, command, subject=subject_of(slug))
    return answer(outcome, accepted=201)


async def first_recipient(request: Request, slug: str, audience: str) -> dict[str, Any] | None:
    """One member of the audience (the first trio's first member), whose name the preview greets."""
    found = await read(request, "registration", "/api/registrations", edition=slug, status=audience, limit=1)
    for registration in found.body.get("registrations", []) if found.found else []:
        for member in registration.get("members", []):
            if member.get("name"):
                return {"municipality": registration.get("municipality", {}).get("name"), **member}
    return None


def command_of(slug: str, form: Mapping[str, str]) -> SendAnnouncement | list[ErrorItem]:
    body = {name: form.get(name, "").strip() for name in FIELDS}
    body["text_en"] = body["text_en"] or None  # type: ignore[assignment]
    try:
        return SendAnnouncement.model_validate({**body, "edition": slug})
    except ValidationError as exc:
        return validation_errors(exc)


async def mail_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "mail.send", slug)
    return await _page(
        request,
        caller,
        slug,
        {name: "" for name in FIELDS} | {"audience": "placed"},
        notice=request.query_params.get("gedaan"),
    )


async def _page(
    request: Request,
    caller: Caller,
    slug: str,
    values: Mapping[str, str],
    *,
    status: int = 200,
    errors: list[ErrorItem] | None = None,
    preview: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Response:
    return admin_page(
        request,
        "mail.html",
        caller,
        status,
        section="editions",
        slug=slug,
        values=values,
        audiences=AUDIENCES,
        errors={e.field: e.message for e in errors or []},
        preview=preview,
        notice=notice,
    )


async def post_mail(request: Request) -> Response:
    """ "Voorbeeld" shows the mail as one recipient would get it; "Versturen" sends it to the whole audience."""
    slug = request.path_params["slug"]
    caller = await require(request, "mail.send", slug)
    try:
        form = await posted(request)
    except Refused as refused:
        return refused.response
    values = {name: form.get(name, "") for name in FIELDS}
    command = command_of(slug, form)
    if isinstance(command, list):
        return await _page(request, caller, slug, values, status=422, errors=command)
    if not await known_edition(request, slug):
        return await _page(
            request,
            caller,
            slug,
            values,
            status=404,
            errors=[ErrorItem(field="", code="unknown_edition", message="Deze editie bestaat niet.")],
        )
    if form.get("action") != "send":
        member = await first_recipient(request, slug, command.audience)
        english = bool(member and member.get("language") == "en" and command.text_en)
        preview = {
            "member": member,
            "english": english,
            "text": command.text_en if english and command.text_en else command.text,
        }
        return await _page(request, caller, slug, values, preview=preview)
    outcome = await perform(request, caller, command, subject=subject_of(slug))
    if outcome.status == "rejected":
        return await _page(request, caller, slug, values, status=outcome.http_status(), errors=list(outcome.errors))
    done = "verstuurd" if outcome.status == "accepted" else "onderweg"
    return RedirectResponse(f"/console/editions/{slug}/mail?gedaan={done}", 303)


def mail_routes() -> list[Route]:
    return [
        Route("/editions/{slug}/mail", mail_page, methods=["GET"]),
        Route("/editions/{slug}/mail", post_mail, methods=["POST"]),
    ]


OPERATIONS: Final = (
    Operation(
        "POST",
        "/api/editions/{slug}/mail",
        send_mail,
        "Een e-mail sturen aan de geplaatste trio's of de wachtlijst",
        "mail.send",
        "e-mail",
        body=Announcement,
        answer=AnnouncementSent,
        answers={
            201: "De e-mails staan klaar om verstuurd te worden (elk lid één keer).",
            202: "Verstuurd; notifications heeft nog niet geantwoord.",
            404: "Deze editie bestaat niet.",
            422: "De gegevens kloppen niet (met per veld de reden).",
        },
        idempotent_key=True,
    ),
)
