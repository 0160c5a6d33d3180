"""Erasure (registration.ParticipantDataErased) reaching the copies a service keeps outside its main records:
scheduling's session notes and reasons by hand (on its SQLite store, through its consumers), and the .eml files
notifications writes in development."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from services.notifications import handlers as notifications
from services.notifications.bootstrap import mail_copies_for
from services.notifications.delivery import EmlCopies, EmlDelivery, NoCopies
from services.scheduling.adapters import WaitlistRow
from shared.contract.registration import ParticipantDataErased
from shared.contract.scheduling import CompleteSession
from shared.settings import Settings
from tests.unit.test_notifications_handlers import deliver, envelope, registered_world, trio_registered
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


async def eml_copy(delivery: EmlDelivery, notification_id: str) -> Path:
    message = EmailMessage()
    message["To"] = "anna@gemeente.example"
    message.set_content("Beste Anna Veldkamp, ...")
    handoff = await delivery.prepare(notification_id, message)
    handoff.terminate()
    return delivery.directory / f"{notification_id}.eml"


async def test_an_erasure_removes_the_eml_copies_of_the_registrations_mails_and_no_others(tmp_path: Path) -> None:
    world = await registered_world()
    await world.register(trio_registered(registration_id="reg-2", prefix="d."))
    delivery = EmlDelivery(tmp_path / "mail")
    copies = {m.notification_id: await eml_copy(delivery, m.notification_id) for m in world.mails.rows.values()}
    others = {m.notification_id for m in world.mails.rows.values() if m.registration_id == "reg-2"}
    assert len(copies) == 6 and len(others) == 3

    await deliver(
        notifications.erase_participant_data,
        envelope(ParticipantDataErased(registration_id="reg-1")),
        registrations=world.registrations,
        mails=world.mails,
        mail_copies=EmlCopies(delivery.directory),
    )

    assert {notification_id for notification_id, path in copies.items() if path.exists()} == others


def test_notifications_removes_eml_copies_where_it_writes_them_and_none_when_it_mails_through_smtp(
    tmp_path: Path,
) -> None:
    development = mail_copies_for(Settings(werkplaatsen_data_dir=tmp_path))
    assert isinstance(development, EmlCopies) and development.directory == tmp_path / "mail"
    assert isinstance(mail_copies_for(Settings(werkplaatsen_smtp_url="smtp://127.0.0.1:25")), NoCopies)
