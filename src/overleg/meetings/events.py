"""Meeting events: who hears what. Payloads carry ids and states, never chat text.

- ``meeting.lobby``: someone entered or left the lobby, was admitted or denied; only to
  those who may admit (the lobby list is theirs alone).
- ``meeting.participant``: someone joined, left, was removed, or changed role, hand,
  or media; to everyone in the meeting.
- ``meeting.you``: what happened to the recipient: ``waiting``, ``admitted``, ``denied``,
  ``removed``, ``role``, ``muted``, ``media_permissions``, ``hand_lowered``.
- ``meeting.updated``: the meeting itself changed (options, lock, recording, started,
  ended, cancelled, rescheduled); to participants and, for scheduling, invitees.
- ``meeting.message``: a meeting chat message (its id; the text is fetched).
- ``meeting.recording``: recording started or stopped: the notice, with the privacy
  statement and whether consent is required; to everyone in the meeting or its lobby.
- ``meeting.media``: someone started or stopped publishing a feed (``camera`` or
  ``screen``): subscribe to it, or drop it; to everyone in the meeting.

A recipient is an account id, or, for people reached by a participant credential, the
participant id (their event socket is keyed by it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.events.outbox import emit
from overleg.meetings.models import MeetingParticipant
from overleg.security.principal import Principal


def recipient(p: MeetingParticipant) -> uuid.UUID:
    return p.user_id or p.id


async def announce(
    db: AsyncSession,
    principal: Principal,
    type: str,
    meeting_id: uuid.UUID,
    recipients: Iterable[uuid.UUID],
    **data: Any,
) -> None:
    """Queue ``meeting.<type>`` in the caller's transaction (sent after commit)."""
    await emit(
        db,
        tenant_id=principal.tenant_id,
        type=f"meeting.{type}",
        payload={"meeting_id": str(meeting_id), **data},
        recipients=recipients,
    )
