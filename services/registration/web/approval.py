"""The approver's page: approving or declining a trio's participation from the link in the approval mail.

It needs no CSRF token: its only credential is the signed token in its URL, which a forging site cannot know, and
the browser attaches nothing that would make a forged request succeed; that is also why other clients may post a
decision there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.contract import Reply
from shared.contract.registration import ApproveRegistration, DeclineRegistration
from shared.db import utcnow
from shared.links import LinkInvalid, SecretKeys, unsign
from shared.messaging.wiring import Consumers

from ..tokens import MAX_TOKEN_LENGTH
from ..tokens import PURPOSE as APPROVE_PURPOSE
from .posted import BadForm, command_message, read_form
from .reads import Reads
from .rendering import page


@dataclass(frozen=True)
class ApprovalPages:
    consumers: Consumers
    reads: Reads
    secret: SecretKeys

    def routes(self) -> list[Route]:
        return [
            Route("/approve/{token}", self.approval_page, methods=["GET"]),
            Route("/approve/{token}", self.approval_decision, methods=["POST"]),
        ]

    def approval_registration(self, token: str) -> str | None:
        """The registration a genuine approval token is for. Its age is not checked here: an expired link
        still leads to the expired page of its registration (and `decide` checks the age itself)."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            return unsign(self.secret, APPROVE_PURPOSE, token)
        except LinkInvalid:
            return None

    async def approval_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        registration_id = self.approval_registration(token)
        view = await self.reads.view(registration_id) if registration_id else None
        if view is None or view.erased:
            return page("approval_result.html", 404, outcome="invalid", view=None)
        if view.status != "awaiting_approval":
            return page("approval_result.html", 409, outcome="already_decided", view=view)
        if view.approval_expires_at is not None and view.approval_expires_at <= utcnow():
            return page("approval_result.html", 410, outcome="token_expired", view=view)
        return page("approve.html", view=view, errors={}, reason="")

    async def approval_decision(self, request: Request) -> Response:
        # No CSRF token here, by design: the credential is the signed token in the URL, not a cookie, so a
        # forged request from another site cannot succeed, and mail clients or tools may post the decision.
        token = request.path_params["token"]
        try:
            form = await read_form(request)
        except BadForm as bad:
            return bad.response
        registration_id = self.approval_registration(token)
        view = await self.reads.view(registration_id) if registration_id else None
        if registration_id is None or view is None or view.erased:
            return page("approval_result.html", 404, outcome="invalid", view=None)
        decision = form.get("decision", "")
        reason = form.get("reason", "").strip()
        if decision not in ("approve", "decline"):
            return page(
                "approve.html",
                422,
                view=view,
                reason=reason,
                errors={"decision": ["Kies of je de deelname goedkeurt of afwijst."]},
            )
        body: dict[str, Any] = {"registration_id": registration_id, "token": token}
        if decision == "decline" and reason:
            body["reason"] = reason
        model = ApproveRegistration if decision == "approve" else DeclineRegistration
        # One message id per link and decision: a double click or a client's retry repeats the first answer.
        digest = hashlib.sha256(f"{token}\n{decision}".encode()).hexdigest()[:40]
        reply = await self.consumers.command(model, command_message(model.routing_key, body, f"approval-{digest}"))
        return await self.decision_page(reply, decision, registration_id, reason)

    async def decision_page(self, reply: Reply, decision: str, registration_id: str, reason: str) -> Response:
        view = await self.reads.view(registration_id)
        if reply.status == "accepted":
            return page("approval_result.html", outcome="approved" if decision == "approve" else "declined", view=view)
        codes = [e.code for e in reply.errors]
        if "already_decided" in codes:
            return page("approval_result.html", 409, outcome="already_decided", view=view)
        if "token_expired" in codes:
            return page("approval_result.html", 410, outcome="token_expired", view=view)
        if any(e.field == "reason" for e in reply.errors) and view is not None:
            return page(
                "approve.html",
                422,
                view=view,
                reason=reason,
                errors={"reason": [e.message for e in reply.errors if e.field == "reason"]},
            )
        return page("approval_result.html", 404, outcome="invalid", view=None)
