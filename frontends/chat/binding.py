"""Binding a room to a registration: only by the code notifications mailed to the trio's members, pasted into the
room the trio registered from (`koppel <code>`).

Registering from a room does not bind it: the room is whatever the registering client named (anyone may post a
`chat_id` with a registration), and whoever types in a room may type other people's addresses. So until a member
who got the acknowledgement mail pastes its code, the room sees neither the status nor the status link, cannot
cancel, and gets none of notifications' messages about the trio. The code is signed for this purpose and names the
registration and the room (shared/chat_binding.py): it binds that room only.
"""

from __future__ import annotations

from shared.links import LinkExpired, LinkInvalid

from .conversation import Context, Dialogue, Outcome

WORD = "koppel"
CHECK_MAIL = (
    "Elk lid van het trio krijgt een bevestiging per e-mail met daarin een bericht dat begint met 'koppel'. "
    "Stuur dat bericht hier om de aanmelding in dit gesprek te volgen."
)
BOUND = "Dit gesprek volgt nu jullie aanmelding. Typ 'status' voor de stand of 'annuleren' om haar in te trekken."


def is_code_line(text: str, in_flow: bool) -> bool:
    """Outside a dialogue every line starting with `koppel`; inside one (where `koppel ...` may be an answer, say a
    case's title) only `koppel` with one word that has a signed token's shape (payload.timestamp.signature)."""
    word, _, rest = text.strip().partition(" ")
    if word.casefold() != WORD:
        return False
    if not in_flow:
        return True
    code = rest.strip()
    return bool(code) and " " not in code and code.count(".") >= 2


def bind_outcome(d: Dialogue, text: str, ctx: Context) -> Outcome:
    """`koppel <code>`: the room is bound when the code was made for this room and a registration sent from it."""
    code = text.strip()[len(WORD) :].strip()
    if not code:
        return Outcome(d, ["Stuur 'koppel' met de code erachter, zoals in de bevestigingsmail. " + CHECK_MAIL])
    try:
        registration_id, room_id = ctx.read_code(code)
    except LinkExpired:
        return Outcome(d, ["Deze koppelcode is verlopen."])
    except (LinkInvalid, ValueError):
        return Outcome(d, ["Deze koppelcode klopt niet. Kopieer het hele bericht 'koppel …' uit de bevestigingsmail."])
    if room_id != ctx.room_id:
        return Outcome(
            d,
            [
                "Deze koppelcode hoort bij een ander chatgesprek. Stuur hem in het gesprek waarin jullie je hebben "
                "aangemeld."
            ],
        )
    if ctx.registration is not None and ctx.registration.registration_id == registration_id:
        return Outcome(d, ["Dit gesprek volgt deze aanmelding al. Typ 'status' voor de stand."])
    if not any(r.registration_id == registration_id for r in ctx.unbound):
        # Erased meanwhile, or never sent from here.
        return Outcome(d, ["Die aanmelding ken ik niet vanuit dit gesprek."])
    return Outcome(d, [BOUND], bind=registration_id)
