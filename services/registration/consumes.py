"""Everything registration reacts to: one line per message, its handlers given their dependencies by name
(shared/messaging/wiring.py)."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract.registration import (
    ApproveRegistration,
    CancelRegistration,
    CorrectRegistration,
    DeclineRegistration,
    EraseParticipantData,
    IssueCreditNote,
    ParticipantDataErased,
    RegisterPayment,
    RegisterTrio,
    ReplaceMember,
    ResendInvoice,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioSeated,
    TrioWaitlisted,
)
from shared.messaging.dead_letters import OwnDeadLetters, scrub_erased
from shared.messaging.processing import ORGANISER
from shared.messaging.wiring import Consumers, Dependencies, on, subscribe

from . import handlers
from .adapters import (
    RegistrationStore,
    SqlApprovalRequests,
    SqlBilling,
    SqlEditions,
    SqlHistory,
    SqlRegistrations,
    SqlSeating,
)
from .domain import MunicipalityRegister, refine_intake_errors

CONSUMES = (
    on(RegisterTrio, handlers.register_trio, refine_errors=refine_intake_errors),
    on(ApproveRegistration, handlers.decide),
    on(DeclineRegistration, handlers.decide),
    on(CancelRegistration, handlers.cancel),
    on(EraseParticipantData, handlers.erase_on_request, given_by=ORGANISER),
    on(RegisterPayment, handlers.register_payment, given_by=ORGANISER),
    on(IssueCreditNote, handlers.issue_credit_note, given_by=ORGANISER),
    on(ResendInvoice, handlers.resend_invoice, given_by=ORGANISER),
    on(ReplaceMember, handlers.replace_member, given_by=ORGANISER),
    on(CorrectRegistration, handlers.correct_registration, given_by=ORGANISER),
    on(EditionScheduled, handlers.remember_edition),
    on(TrioPlaced, handlers.follow_placement),
    on(TrioWaitlisted, handlers.follow_placement),
    on(PlaceReleased, handlers.follow_placement),
    on(SeatingPlanned, handlers.follow_seating),
    on(TrioSeated, handlers.follow_trio_seats),
    on(SessionRescheduled, handlers.follow_reschedule),
    # Registration's own event: whichever way the data was erased (a request, the retention job), its dead
    # letters (a RegisterTrio it could not process, say) go too.
    on(ParticipantDataErased, after_commit=[scrub_erased]),
)


def invoicing(store: RegistrationStore, session: AsyncSession) -> handlers.Invoicing | None:
    if store.billing is None or store.invoice_links is None:
        return None
    return handlers.Invoicing(
        billing=SqlBilling(session),
        policy=store.billing,  # type: ignore[arg-type]
        links=store.invoice_links,
        history=SqlHistory(session),
    )


def consumers(store: RegistrationStore, municipalities: MunicipalityRegister) -> Consumers:
    return subscribe(
        CONSUMES,
        store,
        Dependencies(
            per_transaction={
                "editions": SqlEditions,
                "registrations": SqlRegistrations,
                "approval_requests": SqlApprovalRequests,
                "seating": SqlSeating,
                "billing": SqlBilling,
                "history": SqlHistory,
                "invoicing": partial(invoicing, store),
            },
            fixed={
                "municipalities": municipalities,
                "approvals": store.approvals,
                "approval_limits": store.approval_limits,
                "dead_letters": OwnDeadLetters(store.dead_letters, store.service),
            },
        ),
    )
