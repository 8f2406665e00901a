"""What goes over the event socket (``/api/v1/events``).

Connecting
    ``GET /api/v1/events`` upgraded to a WebSocket, authenticated by the session cookie
    (``overleg_session``) or by ``?ticket=T`` from ``POST /api/v1/events/ticket`` (single
    use, 60 s; for clients that cannot send the cookie). A meeting participant without an
    account here gets its ticket with its participant credential (``Authorization: Bearer
    olp_...``); its socket receives the events addressed to the participant id, and is
    closed (``SESSION_ENDED``) a short grace period after the participant left, was
    removed or denied, or the meeting ended. A bearer token is never accepted in the URL.
    Browsers' ``Origin`` must be the public base URL's origin or the origin of the
    ``Host`` the socket was opened on. Refusals are HTTP answers to the handshake
    (problem+json): 401 no or ended session / bad ticket, 403 foreign origin.

    Resuming: ``?last_event_id=N`` (the ``id`` of the last event the client processed).
    The server first sends the missed events addressed to the user, oldest first, then
    live ones. If it cannot (older than the retention time, more than the replay limit,
    or an id it does not know) it sends one ``resync`` event instead; without
    ``last_event_id`` the first message is a ``resync`` too. After a ``resync`` the client
    reloads what it shows over the REST API and continues from the ``resync``'s ``id``.

Server to client (one JSON object per text message)
    ``{"id": N, "type": T, "data": {...}}``. Events from the outbox have an ``id``:
    per organisation, increasing by one, in commit order; a client sees the ones addressed
    to it, in that order. ``typing`` and ``presence`` changes are not stored and have
    ``"id": null`` (they are not replayed). Types: ``EVENT_TYPES``.

Client to server (text messages, JSON objects, at most
``OVERLEG_EVENTS_MAX_CLIENT_MESSAGE_BYTES``)
    ``{"type": "typing", "container_type": "channel" | "chat", "container_id": UUID}``:
        the other members of the conversation get a ``typing`` event. Rate-limited per
        connection; the excess is dropped.
    ``{"type": "presence.subscribe", "user_ids": [UUID, ...]}``: replaces the set of
        people whose presence this connection follows (at most ``MAX_PRESENCE_SUBSCRIPTIONS``).
        The server answers with their current presence and sends every change after, for
        the people the user may see only (others are ignored without a word).
    A meeting participant's socket ignores both (participants have no presence and are
    not members of conversations); malformed messages still close it.

Closing (``Close``): the server closes with a code and a reason; anything else from the
client (binary frames, text that is not a JSON object, unknown types, bad fields, too
large) closes that connection only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

EVENT_TYPES = frozenset(
    {
        "message.created",
        "message.edited",
        "message.deleted",
        "reaction.added",
        "reaction.removed",
        "membership.changed",
        "read_state",
        "typing",
        "presence",
        "resync",
        # overleg.meetings.events
        "meeting.lobby",
        "meeting.participant",
        "meeting.you",
        "meeting.updated",
        "meeting.message",
        "meeting.media",
        "meeting.recording",
        # overleg.files.scan (to the uploader: the verdict on their upload)
        "file.scanned",
        # overleg.threat.service (to the admins who may read alerts)
        "alert.raised",
        "alert.resolved",
    }
)
CONTAINER_TYPES = frozenset({"channel", "chat"})
MAX_PRESENCE_SUBSCRIPTIONS = 500


class Close(IntEnum):
    """Close codes the server uses (RFC 6455 section 7.4; 4000-4999 are ours)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # the server is shutting down: reconnect
    UNSUPPORTED = 1003  # a binary frame
    INVALID = 1007  # not a JSON object, or a field is wrong
    POLICY = 1008  # an unknown message type
    TOO_BIG = 1009  # larger than the client message limit
    #: signed out, session revoked or expired, account disabled; a participant out of the
    #: meeting (after the grace period)
    SESSION_ENDED = 4001
    TOO_SLOW = 4008  # the client did not read; its queue overflowed


class ProtocolViolation(Exception):
    """A client message that ends the connection with ``code`` and ``reason``."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Typing:
    container_type: str
    container_id: uuid.UUID


@dataclass(frozen=True)
class PresenceSubscribe:
    user_ids: frozenset[uuid.UUID]


ClientMessage = Typing | PresenceSubscribe


def frame(event_id: int | None, type: str, data_json: str) -> str:
    """The text of one server message; ``data_json`` is a JSON object's text."""
    return f'{{"id":{"null" if event_id is None else event_id},"type":"{type}","data":{data_json}}}'


def data_json(data: Mapping[str, object]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def _uuid(value: object, field: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise ProtocolViolation(Close.INVALID, f"{field} must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ProtocolViolation(Close.INVALID, f"{field} must be a UUID string") from None


def parse(text: str, *, max_bytes: int) -> ClientMessage:
    """Parse one client text message or raise ``ProtocolViolation``."""
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise ProtocolViolation(Close.TOO_BIG, f"messages are limited to {max_bytes} bytes")
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolViolation(Close.INVALID, "not JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation(Close.INVALID, "a message is a JSON object")
    kind = msg.get("type")
    if kind == "typing":
        if set(msg) != {"type", "container_type", "container_id"}:
            raise ProtocolViolation(
                Close.INVALID, "typing takes exactly container_type and container_id"
            )
        if msg["container_type"] not in CONTAINER_TYPES:
            raise ProtocolViolation(Close.INVALID, "container_type must be channel or chat")
        return Typing(msg["container_type"], _uuid(msg["container_id"], "container_id"))
    if kind == "presence.subscribe":
        ids = msg.get("user_ids")
        if set(msg) != {"type", "user_ids"} or not isinstance(ids, list):
            raise ProtocolViolation(Close.INVALID, "presence.subscribe takes a user_ids list")
        if len(ids) > MAX_PRESENCE_SUBSCRIPTIONS:
            raise ProtocolViolation(
                Close.INVALID, f"at most {MAX_PRESENCE_SUBSCRIPTIONS} user_ids per connection"
            )
        return PresenceSubscribe(frozenset(_uuid(i, "user_ids") for i in ids))
    shown = kind if isinstance(kind, str) and len(kind) <= 40 else "?"
    raise ProtocolViolation(Close.POLICY, f"unknown message type {shown!r}")
