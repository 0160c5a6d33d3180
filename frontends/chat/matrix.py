"""The bot's Matrix account and I/O: logging in (kept in the store, the same device on every start), the long-poll
`/sync` loop and sending a text.

The sync position (`next_batch`) is stored after each batch, so lines sent while the bot was down are answered when
it is back. The bot joins rooms it is invited to; what a joined room or a line leads to is the bot's (callbacks).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import structlog
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    RoomMessageText,
    RoomSendError,
    SyncResponse,
    WhoamiResponse,
)

from shared.db import Database

from .settings import ChatSettings
from .store import ChatStore, OutboxRow

log = structlog.get_logger()

SYNC_TIMEOUT_MS = 10_000
RETRY_SECONDS = 2.0
DEVICE_NAME = "Werkplaatsen chatbot"

Joined = Callable[[str], Awaitable[None]]  # room id
Line = Callable[[str, str, str], Awaitable[None]]  # room id, event id, text


class Matrix:
    def __init__(self, settings: ChatSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.client = AsyncClient(
            settings.werkplaatsen_chat_homeserver,
            settings.werkplaatsen_chat_user,
            config=AsyncClientConfig(max_timeouts=3, request_timeout=30),
        )

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def close(self) -> None:
        await self.client.close()

    # Logging in

    async def login(self) -> None:
        s = self.settings
        if s.werkplaatsen_chat_access_token is not None:
            self.client.restore_login(
                s.werkplaatsen_chat_user,
                s.werkplaatsen_chat_device_id or "",
                s.werkplaatsen_chat_access_token.get_secret_value(),
            )
            await self.check_login()
            return
        async with self.db.sessions() as session:
            saved = await ChatStore(session).setting("matrix_login")
        if saved:
            # The same device on every start: the homeserver recognises a repeated transaction id only per device.
            login = json.loads(saved)
            self.client.restore_login(login["user_id"], login["device_id"], login["access_token"])
            if await self.check_login(fail=False):
                return
        assert s.werkplaatsen_chat_password is not None
        response = await self.client.login(s.werkplaatsen_chat_password.get_secret_value(), device_name=DEVICE_NAME)
        if not isinstance(response, LoginResponse):
            raise SystemExit(f"WERKPLAATSEN_CHAT_PASSWORD: the homeserver refused the login ({response})")
        async with self.db.transaction() as session:
            await ChatStore(session).set_setting(
                "matrix_login",
                json.dumps(
                    {
                        "user_id": response.user_id,
                        "device_id": response.device_id,
                        "access_token": response.access_token,
                    }
                ),
            )

    async def check_login(self, fail: bool = True) -> bool:
        response = await self.client.whoami()
        if isinstance(response, WhoamiResponse):
            self.client.user_id = response.user_id
            self.client.device_id = response.device_id or self.client.device_id
            return True
        if fail:
            raise SystemExit(f"WERKPLAATSEN_CHAT_ACCESS_TOKEN: the homeserver refused it ({response})")
        return False

    # Syncing

    async def sync_forever(self, stop: asyncio.Event, joined: Joined, line: Line, wake: asyncio.Event) -> None:
        async with self.db.sessions() as session:
            token = await ChatStore(session).setting("sync_token")
        while not stop.is_set():
            try:
                token = await self.sync_once(token, joined, line)
            except Exception as exc:
                # The homeserver is away or a line could not be handled: the same batch is fetched again.
                log.warning("matrix_sync_failed", error=repr(exc)[:300])
                await asyncio.sleep(RETRY_SECONDS)
                continue
            wake.set()

    async def sync_once(self, token: str | None, joined: Joined, line: Line) -> str:
        if token is None:
            # First start: begin from now; what was said in rooms before the bot existed is not for it.
            response = await self.client.sync(
                timeout=0, full_state=True, sync_filter={"room": {"timeline": {"limit": 0}}}
            )
        else:
            response = await self.client.sync(timeout=SYNC_TIMEOUT_MS, since=token)
        if not isinstance(response, SyncResponse):
            raise RuntimeError(f"sync refused: {response}")
        await self.on_sync(response, joined, line)
        async with self.db.transaction() as session:
            await ChatStore(session).set_setting("sync_token", response.next_batch)
        return response.next_batch

    async def on_sync(self, response: SyncResponse, joined: Joined, line: Line) -> None:
        for room_id in response.rooms.invite:
            join = await self.client.join(room_id)
            if isinstance(join, JoinResponse):
                await joined(room_id)
            else:
                log.warning("matrix_join_failed", room_id=room_id, error=str(join)[:300])
        for room_id, room in response.rooms.join.items():
            for event in room.timeline.events:
                if isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
                    await line(room_id, event.event_id, event.body)

    # Sending

    async def send_text(self, row: OutboxRow) -> None:
        response = await self.client.room_send(
            row.target, "m.room.message", {"msgtype": "m.text", "body": row.body}, tx_id=row.send_id
        )
        if isinstance(response, RoomSendError):
            if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
                # The bot left or was removed from the room: nobody there to tell.
                log.warning("matrix_room_gone", room_id=row.target, error=str(response)[:300])
                return
            raise RuntimeError(f"sending to {row.target} failed: {response}")
