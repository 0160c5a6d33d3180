"""The console's message ids: stable for one account, command type and Idempotency-Key, and unpredictable to
anyone without the console's secret (who could otherwise use an organiser's id up in advance)."""

from __future__ import annotations

import uuid

from frontends.console.gateway import id_key, message_id_for
from shared.contract import Actor

ANNA = Actor(account_id="acc-anna", role="organiser")
BERT = Actor(account_id="acc-bert", role="organiser")
KEY = id_key("a-long-server-secret-for-the-console-tests")


def test_the_same_request_repeated_gets_the_same_message_id() -> None:
    assert message_id_for(KEY, ANNA, "EraseParticipantData", "k-1") == message_id_for(
        KEY, ANNA, "EraseParticipantData", "k-1"
    )


def test_the_id_is_scoped_to_the_account_and_the_command_type() -> None:
    ids = {
        message_id_for(KEY, ANNA, "EraseParticipantData", "k-1"),
        message_id_for(KEY, BERT, "EraseParticipantData", "k-1"),
        message_id_for(KEY, ANNA, "CancelRegistration", "k-1"),
        message_id_for(KEY, ANNA, "EraseParticipantData", "k-2"),
    }
    assert len(ids) == 4


def test_without_the_server_secret_the_id_cannot_be_derived_from_what_a_client_knows() -> None:
    ours = message_id_for(KEY, ANNA, "EraseParticipantData", "k-1")
    assert ours != message_id_for(id_key("another-secret-entirely-for-a-guess"), ANNA, "EraseParticipantData", "k-1")
    # Not the name-based UUID an outsider could compute from the account, the type and the key.
    for namespace in (uuid.NAMESPACE_URL, uuid.UUID("6f1d0a52-3a5e-4a43-9d1b-6f0f1c2b7a10")):
        assert ours != str(uuid.uuid5(namespace, f"{ANNA.account_id}\x1fEraseParticipantData\x1fk-1"))
    assert "k-1" not in ours and ANNA.account_id not in ours


def test_without_an_idempotency_key_each_request_gets_a_fresh_id() -> None:
    assert message_id_for(KEY, ANNA, "CloseRegistration", None) != message_id_for(KEY, ANNA, "CloseRegistration", None)
