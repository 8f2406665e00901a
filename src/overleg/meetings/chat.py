"""Meeting chat: written by people in the meeting, kept afterwards for those with an
account who took part. Every message goes through the content gate, is sealed with the
tenant's data key (aad: tenant, meeting, message) and audited without its text.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.errors import NotFound, ValidationFailed
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import runtime_of
from overleg.meetings.access import access_room, my_participant
from overleg.meetings.events import announce, recipient
from overleg.meetings.models import Meeting, MeetingMessage
from overleg.meetings.room import people
from overleg.meetings.schemas import MeetingMessageCreate, MeetingMessagePublic
from overleg.messaging.render import render
from overleg.security import content_gate
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal

PAGE = 200


def _aad(tenant_id: uuid.UUID, meeting_id: uuid.UUID, message_id: uuid.UUID) -> bytes:
    return b"overleg:meeting-message:" + tenant_id.bytes + meeting_id.bytes + message_id.bytes


async def _public(db: AsyncSession, m: MeetingMessage) -> MeetingMessagePublic:
    raw = await runtime_of(db).keys.decrypt(
        db, m.tenant_id, m.body_enc, _aad(m.tenant_id, m.meeting_id, m.id)
    )
    body = json.loads(raw)
    return MeetingMessagePublic(
        id=m.id,
        participant_id=m.participant_id,
        author_user_id=m.author_user_id,
        author_name=m.author_name,
        text=body["text"],
        html=body["html"],
        created_at=m.created_at,
        recording_id=m.recording_id,
    )


async def send(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: MeetingMessageCreate
) -> MeetingMessagePublic:
    room = await access_room(principal, db, meeting_id, action="meeting.chat")
    me = room.me
    assert me is not None
    if not room.allow_chat:
        raise refuse(
            principal,
            "meeting.chat",
            "chat is turned off in this meeting",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    text = data.text.strip()
    if not text:
        raise ValidationFailed("text: write something.", extra={"field": "text"})
    verdict = content_gate.inspect(
        principal,
        content_gate.Content(
            content_gate.Channel.MEETING_CHAT,
            text,
            container_type="meeting",
            container_id=str(meeting_id),
        ),
    )
    if not verdict.allowed:
        raise refuse(
            principal,
            "meeting.chat",
            "blocked by a content policy (" + "; ".join(verdict.reasons) + ")",
            target_type="meeting",
            target_id=str(meeting_id),
        )
    msg = MeetingMessage(
        id=new_id(),
        tenant_id=room.meeting.tenant_id,
        meeting_id=meeting_id,
        participant_id=me.id,
        author_user_id=me.user_id,
        author_name=me.display_name,
    )
    body = json.dumps({"text": text, "html": render(text)}, ensure_ascii=False).encode()
    msg.body_enc = await runtime_of(db).keys.encrypt(
        db, msg.tenant_id, body, _aad(msg.tenant_id, meeting_id, msg.id)
    )
    db.add(msg)
    await db.flush()
    await record(
        principal,
        db,
        "meeting.chat",
        target_type="meeting",
        target_id=meeting_id,
        details={"message_id": str(msg.id), "length": len(text)},
    )
    everyone = [recipient(p) for p in await people(db, meeting_id, "in")]
    await announce(db, principal, "message", meeting_id, everyone, message_id=str(msg.id))
    return await _public(db, msg)


async def post_recording_item(
    principal: Principal,
    db: AsyncSession,
    m: Meeting,
    *,
    recording_id: uuid.UUID,
    participant_id: uuid.UUID,
    text: str,
) -> MeetingMessage:
    """Overleg's own chat item for a finished recording (no content gate: the text is
    ours). Shown under the name "Overleg", on behalf of the person who started it."""
    msg = MeetingMessage(
        id=new_id(),
        tenant_id=m.tenant_id,
        meeting_id=m.id,
        participant_id=participant_id,
        author_user_id=None,
        author_name="Overleg",
        recording_id=recording_id,
    )
    body = json.dumps({"text": text, "html": render(text)}, ensure_ascii=False).encode()
    msg.body_enc = await runtime_of(db).keys.encrypt(
        db, m.tenant_id, body, _aad(m.tenant_id, m.id, msg.id)
    )
    db.add(msg)
    await db.flush()
    everyone = [recipient(p) for p in await people(db, m.id, "in")]
    await announce(
        db,
        principal,
        "message",
        m.id,
        everyone,
        message_id=str(msg.id),
        recording_id=str(recording_id),
    )
    return msg


async def history(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID
) -> list[MeetingMessagePublic]:
    """The meeting's chat, oldest first (the last ``PAGE`` messages). Readable by people
    in the meeting and, afterwards, by everyone with an account who took part in it, and
    by its organizer."""
    m = await db.get(Meeting, meeting_id)
    me = await my_participant(principal, db, meeting_id) if m else None
    organizer = m is not None and principal.user_id == m.organizer_id
    took_part = me is not None and (
        me.state == "in" or (me.user_id is not None and me.first_joined_at is not None)
    )
    if m is None or not (organizer or took_part):
        raise not_found_denied(principal, "meeting.chat_read", "meeting", str(meeting_id))
    rows = list(
        await db.scalars(
            select(MeetingMessage)
            .where(MeetingMessage.meeting_id == meeting_id)
            .order_by(MeetingMessage.created_at.desc(), MeetingMessage.id.desc())
            .limit(PAGE)
        )
    )
    return [await _public(db, r) for r in reversed(rows)]


__all__ = ["NotFound", "history", "post_recording_item", "send"]
