"""The registration form: the page, and posting it as RegisterTrio.

A form carries a signed key that is its command's message id, so posting the same form twice (a double click, a
reload) repeats the first answer; a refused form gets a new key, since a corrected form is a new command.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.contract.registration import RegisterTrio
from shared.db import utcnow
from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign
from shared.messaging.wiring import Consumers
from shared.municipalities import Municipality, MunicipalityIndex
from shared.refusals import only_already_registered, public_errors

from ..domain import Edition, fee_for, has_priority
from .csrf import Csrf
from .form_fields import UNRESOLVED_MUNICIPALITY, FormState, form_errors, municipality_problem, trio_command
from .posted import BadForm, client_headers, command_message, read_form
from .reads import Reads
from .rendering import allocation_moment, not_found, page

PURPOSE = "registration-form"


@dataclass(frozen=True)
class RegistrationForm:
    consumers: Consumers
    municipalities: MunicipalityIndex
    reads: Reads
    csrf: Csrf
    secret: SecretKeys

    def routes(self) -> list[Route]:
        return [Route("/", self.form, methods=["GET"]), Route("/", self.submit, methods=["POST"])]

    async def form(self, request: Request) -> Response:
        values = MultiDict({"form_key": sign(self.secret, PURPOSE, str(uuid.uuid4()))})
        return await self.render_form(request, FormState(values))

    async def render_form(self, request: Request, state: FormState, status_code: int = 200) -> Response:
        editions, stopped = await self.reads.form_editions()
        if not editions:
            return page("closed.html", 200 if status_code == 200 else status_code, stopped=stopped)
        values = state.values
        if not values.get("edition") and len(editions) == 1:
            values = MultiDict([*values.multi_items(), ("edition", editions[0].slug)])
        token, fresh = self.csrf.issue(request)
        chosen = next((e for e in editions if e.slug == values.get("edition")), None)
        municipality, _ = self.municipalities.resolve(values.get("municipality", ""))
        response = page(
            "form.html",
            status_code,
            values=values,
            errors=state.errors,
            summary=state.summary,
            csrf=token,
            editions=editions,
            allocated=[e for e in editions if e.allocated(utcnow())],
            stopped=stopped,
            municipalities=self.municipalities,
            chosen=municipality_facts(municipality, chosen) if municipality and chosen else None,
        )
        return self.csrf.attach(response, fresh)

    async def submit(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        state = FormState(form)
        if not self.csrf.valid(request, form.get("csrf", "")):
            state.add(
                "",
                "Het formulier was verlopen of je browser stuurde het zonder cookie. Je gegevens "
                "staan er nog: controleer ze en verstuur het formulier opnieuw.",
            )
            return await self.render_form(request, state, 403)
        message_id = self.form_message_id(form.get("form_key", ""))
        if message_id is None:
            state.values = self.with_new_key(form)
            state.add("", "Dit formulier kunnen we niet verwerken. Controleer de gegevens en verstuur het opnieuw.")
            return await self.render_form(request, state, 400)
        typed = form.get("municipality", "")
        municipality, candidates = self.municipalities.resolve(typed)
        body = trio_command(form, municipality.code if municipality else UNRESOLVED_MUNICIPALITY)
        msg = command_message(RegisterTrio.routing_key, body, message_id, client_headers(request))
        reply = await self.consumers.command(RegisterTrio, msg)
        # A registration refused only because its members are registered already gets the same page as an
        # accepted one (enumeration.py): the members hear of it by mail.
        if municipality and (reply.status == "accepted" or only_already_registered(reply.errors)):
            return await self.registered(form.get("edition", ""), municipality)
        # The refused command's outcome is kept under its message id: a corrected form needs a new one.
        state.values = self.with_new_key(form)
        errors = public_errors(reply.errors)
        form_errors(state, errors, None if municipality else municipality_problem(typed, candidates))
        return await self.render_form(request, state, 422)

    def form_message_id(self, form_key: str) -> str | None:
        # Signed, so a posted form can only ever repeat its own command, never claim another one's outcome.
        try:
            return unsign(self.secret, PURPOSE, form_key[:200])
        except (LinkInvalid, LinkExpired):
            return None

    def with_new_key(self, form: MultiDict) -> MultiDict:
        items = [(k, v) for k, v in form.multi_items() if k != "form_key"]
        return MultiDict([*items, ("form_key", sign(self.secret, PURPOSE, str(uuid.uuid4())))])

    async def registered(self, slug: str, municipality: Municipality) -> Response:
        """ "Check your mail": made from what was posted, not from the store, so that it reads the same whether the
        registration was accepted or refused for members already registered. The status link is in the mail."""
        edition = await self.reads.edition(slug)
        if edition is None:
            return not_found()
        return page(
            "registered.html",
            edition=edition,
            municipality=municipality,
            fee=fee_for(edition, municipality.size_class),
            allocation_at=allocation_moment(edition),
            now=utcnow(),
        )


def municipality_facts(m: Municipality, edition: Edition) -> dict[str, Any]:
    fee = fee_for(edition, m.size_class)
    return {
        "name": m.name,
        "province": m.province,
        "size_class": m.size_class,
        "fee_cents": fee.amount_cents,
        "priority": has_priority(edition, m.size_class),
    }
