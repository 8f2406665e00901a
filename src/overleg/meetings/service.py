"""The meetings use cases, in one place for the transports (HTTP, CLI, jobs).

Scheduling and options are in ``scheduling`` and ``options``; getting in and out in
``room``; the controls inside in ``controls``; chat and attendance in their own modules.
"""

from __future__ import annotations

from overleg.meetings.attendance import report as attendance
from overleg.meetings.chat import history as chat_history
from overleg.meetings.chat import send as chat_send
from overleg.meetings.controls import (
    lower_hand,
    mute,
    participants,
    set_hand,
    set_media_permissions,
    set_my_media,
    set_role,
)
from overleg.meetings.controls import view as room_view
from overleg.meetings.media.signalling import answer as media_answer
from overleg.meetings.media.signalling import feeds as media_feeds
from overleg.meetings.media.signalling import leave_media as media_leave
from overleg.meetings.media.signalling import publish as media_publish
from overleg.meetings.media.signalling import subscribe as media_subscribe
from overleg.meetings.media.signalling import unpublish as media_unpublish
from overleg.meetings.recordings.control import give_consent, set_exclusion, set_recording
from overleg.meetings.room import (
    admit,
    admit_all,
    deny,
    end_meeting,
    join,
    leave,
    lobby,
    remove,
    tenant_of_link,
    unblock,
)

__all__ = [
    "admit",
    "admit_all",
    "attendance",
    "chat_history",
    "chat_send",
    "deny",
    "end_meeting",
    "give_consent",
    "join",
    "leave",
    "lobby",
    "lower_hand",
    "media_answer",
    "media_feeds",
    "media_leave",
    "media_publish",
    "media_subscribe",
    "media_unpublish",
    "mute",
    "participants",
    "remove",
    "room_view",
    "set_exclusion",
    "set_hand",
    "set_media_permissions",
    "set_my_media",
    "set_recording",
    "set_role",
    "tenant_of_link",
    "unblock",
]
