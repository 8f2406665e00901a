"""A meeting's secrets: the join code, the invitation key, the dial-in conference id and
PIN. Join codes and invitation keys carry 256 random bits; the PIN is sealed with the
tenant's data key, bound to its meeting (a PIN copied onto another meeting does not open).
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.runtime import runtime_of
from overleg.meetings.models import Meeting

CONFERENCE_DIGITS = 9
PIN_DIGITS = 6


def new_join_code() -> str:
    return secrets.token_urlsafe(32)


def new_invite_key() -> str:
    return secrets.token_urlsafe(24)


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


async def new_conference_id(db: AsyncSession) -> str:
    """A conference id not used by another meeting of the session's tenant."""
    while True:
        cid = str(
            secrets.randbelow(9 * 10 ** (CONFERENCE_DIGITS - 1)) + 10 ** (CONFERENCE_DIGITS - 1)
        )
        if await db.scalar(select(Meeting.id).where(Meeting.conference_id == cid)) is None:
            return cid


def _aad(tenant_id: uuid.UUID, meeting_id: uuid.UUID) -> bytes:
    return b"overleg:meeting-pin:" + tenant_id.bytes + meeting_id.bytes


async def seal_pin(db: AsyncSession, m: Meeting, pin: str) -> bytes:
    """``m`` needs its id and tenant_id set."""
    return await runtime_of(db).keys.encrypt(db, m.tenant_id, pin.encode(), _aad(m.tenant_id, m.id))


async def open_pin(db: AsyncSession, m: Meeting) -> str:
    raw = await runtime_of(db).keys.decrypt(db, m.tenant_id, m.pin_enc, _aad(m.tenant_id, m.id))
    return raw.decode()


async def pin_matches(db: AsyncSession, m: Meeting, given: str) -> bool:
    return hmac.compare_digest((await open_pin(db, m)).encode(), given.encode())
