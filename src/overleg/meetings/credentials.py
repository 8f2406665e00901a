"""Participant credentials: how people without an account here act in one meeting.

Anonymous joiners, dial-in callers and people signed in at another organisation get a
credential when they join (``olp_`` + 256 random bits, shown once, stored as SHA-256).
It authenticates them, as a ``PrincipalKind.PARTICIPANT`` scoped to the meeting's tenant,
on that meeting's routes only, and (through a single-use ticket) on the event socket.

A credential stops working for HTTP as soon as its participant leaves, is removed or
denied, or the meeting ends. The event socket is given ``GRACE_SECONDS`` more, so that
the last word ("denied", "removed", "ended") still reaches it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.clock import now
from overleg.kernel.errors import Unauthenticated
from overleg.meetings.models import Meeting, MeetingParticipant, ParticipantSocketTicket
from overleg.security.authn.tokens import hash_token, new_token
from overleg.security.principal import Principal, PrincipalKind

PREFIX = "olp_"
TICKET_SECONDS = 60
GRACE_SECONDS = 30
#: participant ids per query
CHUNK = 5000
#: participant states in which the credential still works
LIVE_STATES = frozenset({"lobby", "in"})


def new_credential() -> tuple[str, str]:
    """(credential, its hash to store)."""
    token = PREFIX + new_token()
    return token, hash_token(token)


def is_credential(token: str) -> bool:
    return token.startswith(PREFIX)


def principal_for(
    p: MeetingParticipant,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    request_id: str | None = None,
    auth_method: str = "participant",
) -> Principal:
    """The principal of participant ``p`` (audited under the name they gave)."""
    label = p.email or (
        f"dial-in:{p.phone_masked}" if p.phone_masked else f"anonymous:{p.display_name}"
    )
    return Principal(
        kind=PrincipalKind.PARTICIPANT,
        tenant_id=p.tenant_id,
        label=label[:320],
        session_id=p.id,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
        auth_method=auth_method,
        extra={"participant_id": str(p.id), "meeting_id": str(p.meeting_id)},
    )


def participant_id_of(principal: Principal) -> uuid.UUID | None:
    raw = principal.extra.get("participant_id")
    return uuid.UUID(raw) if raw and principal.kind is PrincipalKind.PARTICIPANT else None


async def authenticate(
    db: AsyncSession,
    token: str,
    *,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
) -> Principal:
    """The participant behind ``token`` (``db`` unscoped). Raises Unauthenticated when the
    credential is unknown, or its participant has left, was removed or denied, or the
    meeting is over."""
    row = await db.execute(
        select(MeetingParticipant, Meeting.status)
        .join(Meeting, Meeting.id == MeetingParticipant.meeting_id)
        .where(MeetingParticipant.token_hash == hash_token(token))
    )
    found = row.first()
    if found is None:
        raise Unauthenticated("This participant credential is unknown. Join the meeting again.")
    p, status = found
    if p.state not in LIVE_STATES or status != "scheduled":
        raise Unauthenticated("You are no longer in this meeting. Join it again.")
    return principal_for(p, ip=ip, user_agent=user_agent, request_id=request_id)


async def issue_socket_ticket(db: AsyncSession, principal: Principal) -> tuple[str, datetime]:
    """A single-use event-socket ticket for a participant principal. Shown once."""
    pid = participant_id_of(principal)
    if pid is None:
        raise Unauthenticated("Only a meeting participant credential gets this ticket.")
    token = new_token()
    expires = now() + timedelta(seconds=TICKET_SECONDS)
    db.add(
        ParticipantSocketTicket(
            tenant_id=principal.tenant_id,
            token_hash=hash_token(token),
            participant_id=pid,
            expires_at=expires,
        )
    )
    return token, expires


async def redeem_socket_ticket(
    db: AsyncSession, ticket: str, *, ip: str | None, user_agent: str | None, request_id: str
) -> Principal | None:
    """The participant principal of an unused, unexpired participant ticket (``db``
    unscoped, in a transaction), or None when ``ticket`` is no such ticket. One
    conditional UPDATE: two nodes never both accept it."""
    t = now()
    found = (
        await db.execute(
            update(ParticipantSocketTicket)
            .where(
                ParticipantSocketTicket.token_hash == hash_token(ticket),
                ParticipantSocketTicket.used_at.is_(None),
                ParticipantSocketTicket.expires_at > t,
            )
            .values(used_at=t)
            .returning(ParticipantSocketTicket.participant_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if found is None:
        return None
    p = await db.get(MeetingParticipant, found[0])
    meeting = await db.get(Meeting, p.meeting_id) if p else None
    if p is None or meeting is None or p.state not in LIVE_STATES or meeting.status != "scheduled":
        raise Unauthenticated("You are no longer in this meeting. Join it again.")
    return principal_for(
        p, ip=ip, user_agent=user_agent, request_id=request_id, auth_method="ticket"
    )


async def ended_participants(
    db: AsyncSession, participant_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which participants' sockets must close: gone, or out of the meeting (left, removed,
    denied, or the meeting over) for more than ``GRACE_SECONDS``. ``db`` unscoped."""
    wanted = set(participant_ids)
    if len(wanted) > CHUNK:  # SQLite takes at most 32766 parameters
        ids = sorted(wanted)
        ended: set[uuid.UUID] = set()
        for i in range(0, len(ids), CHUNK):
            ended |= await ended_participants(db, ids[i : i + CHUNK])
        return ended
    if not wanted:
        return set()
    cutoff = now() - timedelta(seconds=GRACE_SECONDS)
    rows = await db.execute(
        select(
            MeetingParticipant.id,
            MeetingParticipant.state,
            MeetingParticipant.left_at,
            Meeting.status,
            Meeting.ended_at,
        )
        .join(Meeting, Meeting.id == MeetingParticipant.meeting_id)
        .where(MeetingParticipant.id.in_(wanted))
    )
    ended = set(wanted)  # gone rows stay in: their sockets close
    for pid, state, left_at, status, ended_at in rows.all():
        out = state not in LIVE_STATES and (left_at is None or left_at < cutoff)
        over = status != "scheduled" and (ended_at is None or ended_at < cutoff)
        if not (out or over):
            ended.discard(pid)
    return ended


async def purge_socket_tickets(db: AsyncSession, *, before: datetime) -> int:
    """Delete participant socket tickets that expired before ``before`` (unscoped ``db``)."""
    result = await db.execute(
        delete(ParticipantSocketTicket)
        .where(ParticipantSocketTicket.expires_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


__all__ = [
    "GRACE_SECONDS",
    "PREFIX",
    "authenticate",
    "ended_participants",
    "is_credential",
    "issue_socket_ticket",
    "new_credential",
    "participant_id_of",
    "principal_for",
    "purge_socket_tickets",
    "redeem_socket_ticket",
]
