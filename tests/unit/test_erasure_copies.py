"""Erasure (registration.ParticipantDataErased) reaching the copies a service keeps of text that may name a trio's
people: scheduling's session notes and reasons by hand (on its SQLite store, through its consumers)."""

from __future__ import annotations

from sqlalchemy import select

from services.scheduling.adapters import WaitlistRow
from shared.contract.registration import ParticipantDataErased
from shared.contract.scheduling import CompleteSession
from tests.unit.test_scheduling_by_hand import ORGANISER, Organiser, organiser, store

__all__ = ["organiser", "store"]  # the fixtures

NOTES = {
    "lessons": ["Anna Veldkamp liet zien hoe de wijk meedoet."],
    "instruments": [],
    "quotes": ["Het plein is van iedereen, zei Dirk Visser."],
    "next_steps": [],
}


async def test_an_erasure_drops_the_notes_of_the_editions_sessions_and_the_trios_reason_by_hand(
    organiser: Organiser,
) -> None:
    ids = await organiser.allocated_with(10)  # eight places: the last two wait
    assert (await organiser.move(ids[9], 1, reason="Anna Veldkamp belde de wethouder")).status == "accepted"
    await organiser.after_first_session()
    assert (await organiser.run(CompleteSession, session_number=1, notes=NOTES)).status == "accepted"
    path = f"/api/editions/{organiser.slug}/sessions/1"
    assert (await organiser.get(path, **ORGANISER)).json()["notes"]["lessons"] == NOTES["lessons"]

    await organiser.publish(ParticipantDataErased(registration_id=ids[9]))

    assert (await organiser.get(path, **ORGANISER)).json()["notes"] is None
    async with organiser.store.db.sessions() as session:
        reasons = dict((await session.execute(select(WaitlistRow.registration_id, WaitlistRow.hand_reason))).all())
    assert reasons == {ids[9]: "[verwijderd]", ids[8]: None}
