"""Messages of the notifications service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Command, CommandRejected, EventData, OneLine


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
    registration_id: str | None = Field(
        default=None,
        description="The registration the text is about: a chat front end delivers it only to a room bound to that "
        "registration (the room id alone is whatever the registering client gave). Added in contract 1.5.",
    )


class SendAnnouncement(Command):
    """An organiser's mail to every member of an edition's placed trios or of its waitlist. Each member gets it in
    their language (`text_en` for English speakers when given, else the Dutch text), with the usual greeting and
    signature. The command's message_id identifies the announcement: delivered twice, it is sent once."""

    routing_key = "notifications.SendAnnouncement"

    edition: str = Field(max_length=64)
    audience: Literal["placed", "waitlisted"] = Field(description="The placed trios, or the waitlisted ones.")
    subject: OneLine = Field(min_length=1, max_length=200, description="One line.")
    text: str = Field(min_length=1, max_length=10000, description="The message in Dutch (plain text).")
    text_en: str | None = Field(default=None, max_length=10000, description="The message in English (optional).")


class AnnouncementQueued(EventData):
    routing_key = "notifications.AnnouncementQueued"

    announcement_id: str = Field(description="message_id of the SendAnnouncement command.")
    edition: str
    audience: str
    recipients: int = Field(description="How many mails were queued (0 for an empty audience).")


class ResendNotification(Command):
    """Send one mail again, as a new notification with the same contents (e.g. a member lost it)."""

    routing_key = "notifications.ResendNotification"

    notification_id: str = Field(max_length=64)


class NotificationResent(EventData):
    routing_key = "notifications.NotificationResent"

    notification_id: str = Field(description="The new notification.")
    resent: str = Field(description="The notification sent again.")


class NotificationsCommandRejected(CommandRejected):
    routing_key = "notifications.CommandRejected"
