"""Signed links: each token is good for one purpose and one registration, made with this deployment's key, and
expires. Complements tests/unit/test_registration_web.py (wrong, tampered and foreign tokens on the pages, the
expired approval link, a second use of an approval link), with what those do not cover."""

from __future__ import annotations

import base64
import itertools
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import TimestampSigner

from services.registration.tokens import ApprovalLinks
from shared.db import utcnow
from shared.links import DEFAULT_MAX_AGE_SECONDS, LinkExpired, LinkInvalid, sign, unsign
from shared.messaging.messages import CommandRefused
from tests.unit.test_registration_web import SECRET, open_site, register, sqlite_url

# Every purpose the services sign for.
PURPOSES = ("status", "approve", "csrf", "registration-form", "cancel-form", "session", "invoice")


@pytest.mark.parametrize(("made_for", "used_for"), list(itertools.permutations(PURPOSES, 2)))
def test_a_token_made_for_one_purpose_is_worthless_for_every_other(made_for: str, used_for: str) -> None:
    token = sign(SECRET, made_for, "3f1c9a52-0000-4000-8000-000000000001")
    with pytest.raises(LinkInvalid):
        unsign(SECRET, used_for, token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = sign("the-key-of-another-deployment", "approve", "r-1")
    with pytest.raises(LinkInvalid):
        unsign(SECRET, "approve", token)


def test_swapping_the_registration_inside_a_genuine_token_breaks_its_signature() -> None:
    token = sign(SECRET, "approve", "registration-a")
    payload, rest = token.split(".", 1)
    forged_payload = base64.urlsafe_b64encode(b'"registration-b"').rstrip(b"=").decode()
    assert forged_payload != payload
    with pytest.raises(LinkInvalid):
        unsign(SECRET, "approve", f"{forged_payload}.{rest}")


def test_an_approval_token_decides_only_the_registration_it_was_made_for() -> None:
    links = ApprovalLinks(SECRET, "https://wp.example.nl", validity=timedelta(days=14))
    url, _ = links.issue("registration-a", utcnow())
    token = url.rsplit("/", 1)[1]
    assert links.check(token, "registration-a") is False
    with pytest.raises(CommandRefused) as refused:
        links.check(token, "registration-b")
    assert refused.value.errors[0].code == "invalid_token"


def made_days_ago(monkeypatch: pytest.MonkeyPatch, days: float, purpose: str, value: str) -> str:
    with monkeypatch.context() as patched:
        then = int(time.time() - days * 86400)
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return sign(SECRET, purpose, value)


def test_a_status_link_expires_after_two_years(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_MAX_AGE_SECONDS["status"] == 730 * 86400
    assert unsign(SECRET, "status", made_days_ago(monkeypatch, 700, "status", "r-1")) == "r-1"
    with pytest.raises(LinkExpired):
        unsign(SECRET, "status", made_days_ago(monkeypatch, 731, "status", "r-1"))


def test_an_explicit_age_overrides_the_purposes_default(monkeypatch: pytest.MonkeyPatch) -> None:
    token = made_days_ago(monkeypatch, 2, "csrf", "cookie")
    with pytest.raises(LinkExpired):
        unsign(SECRET, "csrf", token, max_age_seconds=86400)


async def test_the_status_page_of_an_expired_link_shows_nothing_of_the_trio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        link, registration_id = await register(site)
        assert (await site.client.get(link)).status_code == 200
        old = made_days_ago(monkeypatch, 731, "status", registration_id)
        page = await site.client.get(f"/registrations/{registration_id}", params={"token": old})
        assert page.status_code == 404 and "Veenendaal" not in page.text
        cancel = await site.client.get(f"/registrations/{registration_id}/cancel", params={"token": old})
        assert cancel.status_code == 404
    finally:
        await site.close()


async def test_a_status_link_is_bound_to_its_registration_and_not_to_another(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        link_a, _ = await register(site)
        _, b = await register(site)  # another trio (each gets its own addresses)
        token_a = parse_qs(urlsplit(link_a).query)["token"][0]
        assert (await site.client.get(f"/registrations/{b}", params={"token": token_a})).status_code == 404
        assert (await site.client.get(f"/registrations/{b}?token={token_a}")).status_code == 404
    finally:
        await site.close()
