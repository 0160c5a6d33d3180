"""The trio's status page and cancelling from it. The credential is the signed status token in the link; the
cancel form also carries a CSRF token, since it acts on the trio's behalf."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.contract.registration import CancelRegistration
from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign
from shared.messaging.wiring import Consumers

from ..adapters import RegistrationStore
from ..domain import RegistrationView
from ..invoice_routes import invoice_links_of
from ..tokens import MAX_TOKEN_LENGTH
from .csrf import Csrf
from .posted import BadForm, command_message, read_form
from .reads import Reads
from .rendering import allocation_moment, back_to_status, not_found, page

PURPOSE = "cancel-form"
ACTIVE_FOR_CANCEL = ("awaiting_approval", "approved", "placed", "waitlisted")
ALREADY_ENDED = {"already_cancelled", "already_declined"}  # cancelling then changes nothing: show the status


@dataclass(frozen=True)
class StatusPages:
    consumers: Consumers
    store: RegistrationStore  # the invoice's links
    reads: Reads
    csrf: Csrf
    secret: SecretKeys

    def routes(self) -> list[Route]:
        return [
            Route("/registrations/{registration_id}", self.status, methods=["GET"]),
            Route("/registrations/{registration_id}/cancel", self.confirm_cancel, methods=["GET"]),
            Route("/registrations/{registration_id}/cancel", self.cancel, methods=["POST"]),
        ]

    def status_token_valid(self, registration_id: str, token: str) -> bool:
        try:
            value = unsign(self.secret, "status", token[:MAX_TOKEN_LENGTH])
        except (LinkInvalid, LinkExpired):
            return False
        return hmac.compare_digest(value.encode(), registration_id.encode())

    async def viewable(self, registration_id: str, token: str) -> RegistrationView | None:
        if not self.status_token_valid(registration_id, token):
            return None
        view = await self.reads.view(registration_id)
        return view if view is not None and not view.erased else None

    async def status(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        token = request.query_params.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        return page(
            "status.html",
            view=view,
            token=token,
            can_cancel=view.status in ACTIVE_FOR_CANCEL,
            allocation_at=allocation_moment(await self.reads.edition(view.edition)),
            invoice=await invoice_links_of(self.store, registration_id),
        )

    async def confirm_cancel(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        token = request.query_params.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        if view.status not in ACTIVE_FOR_CANCEL:
            return back_to_status(registration_id, token)
        csrf, fresh = self.csrf.issue(request)
        return self.csrf.attach(
            page(
                "cancel.html",
                view=view,
                token=token,
                csrf=csrf,
                error=None,
                form_key=sign(self.secret, PURPOSE, str(uuid.uuid4())),
            ),
            fresh,
        )

    async def cancel(self, request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        token = form.get("token", "")
        view = await self.viewable(registration_id, token)
        if view is None:
            return not_found()
        if not self.csrf.valid(request, form.get("csrf", "")):
            csrf, fresh = self.csrf.issue(request)
            return self.csrf.attach(
                page(
                    "cancel.html",
                    403,
                    view=view,
                    token=token,
                    csrf=csrf,
                    form_key=form.get("form_key", ""),
                    error="Het formulier was verlopen. Bevestig de annulering opnieuw.",
                ),
                fresh,
            )
        message_id = self.cancel_message_id(form.get("form_key", ""))
        body: dict[str, Any] = {"registration_id": registration_id}
        if form.get("reason", "").strip():
            body["reason"] = form.get("reason", "").strip()[:2000]
        reply = await self.consumers.command(
            CancelRegistration, command_message(CancelRegistration.routing_key, body, message_id)
        )
        if reply.status == "rejected" and not {e.code for e in reply.errors} & ALREADY_ENDED:
            csrf, fresh = self.csrf.issue(request)
            return self.csrf.attach(
                page(
                    "cancel.html",
                    422,
                    view=view,
                    token=token,
                    csrf=csrf,
                    form_key=sign(self.secret, PURPOSE, str(uuid.uuid4())),
                    error=" ".join(e.message for e in reply.errors),
                ),
                fresh,
            )
        return back_to_status(registration_id, token)

    def cancel_message_id(self, form_key: str) -> str:
        try:
            return unsign(self.secret, PURPOSE, form_key[:200])
        except (LinkInvalid, LinkExpired):
            return str(uuid.uuid4())  # cancelling twice is refused by the core as `already_cancelled`
