"""The conversation, without I/O: what the bot answers to a participant's line, and to a command's outcome.

A room's `Dialogue` is plain data (conversation.py). This module only routes a line to its flow: registering
(registering.py, asking the steps of steps.py), the status, the programme and cancelling (status_cancel.py), and
binding the room to its registration with the mailed code (binding.py).
"""

from __future__ import annotations

from shared.contract import Reply

from .binding import bind_outcome, is_code_line
from .conversation import HELP, STOP, Context, Dialogue, Outcome
from .registering import answer_step, registration_outcome, start_registration
from .status_cancel import cancel_outcome, confirm_cancel, programme_text, start_cancel, status_text


def respond(d: Dialogue, text: str, ctx: Context) -> Outcome:
    text = text.strip()
    word = text.casefold().strip(" .!?")
    if is_code_line(text, in_flow=d.flow is not None):
        return bind_outcome(d, text, ctx)
    if d.waiting_for:
        if word == "status":
            return Outcome(d, [status_text(ctx)])
        return Outcome(d, ["Even geduld: ik wacht nog op het antwoord op jullie vorige verzoek."])
    if d.flow and word in STOP:
        return Outcome(Dialogue(), ["Gestopt. Typ 'aanmelden' om opnieuw te beginnen of 'hulp' voor wat ik kan."])
    if d.flow == "aanmelden":
        return answer_step(d, text, ctx)
    if d.flow == "annuleren":
        return confirm_cancel(d, word, ctx)
    if word == "aanmelden":
        return start_registration(ctx)
    if word == "status":
        return Outcome(d, [status_text(ctx)])
    if word == "programma":
        return Outcome(d, [programme_text(ctx)])
    if word == "annuleren":
        return start_cancel(d, ctx)
    return Outcome(d, [HELP])


def on_reply(d: Dialogue, reply: Reply, ctx: Context) -> Outcome:
    d.waiting_for = None
    if reply.command_type == "CancelRegistration":
        return cancel_outcome(reply)
    return registration_outcome(d, reply, ctx)
