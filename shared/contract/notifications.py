"""Messages of the notifications service."""

from __future__ import annotations

from pydantic import Field

from .common import EventData


class NotificationSent(EventData):
    routing_key = "notifications.NotificationSent"

    notification_id: str
    kind: str = Field(description="What was sent, e.g. `acknowledgement`.")
    channel: str = Field(description="`email` or `chat`.")
    caused_by: str = Field(description="event_id of the event that caused the notification.")


class NotificationFailed(EventData):
    routing_key = "notifications.NotificationFailed"

    notification_id: str
    kind: str
    channel: str
    caused_by: str
    reason: str


class ChatMessageRequested(EventData):
    """A text for a chat front end to deliver to one of its rooms."""

    routing_key = "notifications.ChatMessageRequested"

    chat_id: str
    text: str
