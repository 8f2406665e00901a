"""Which participant sockets must close, also for more ids than one query may carry."""

from __future__ import annotations

import uuid

from overleg.meetings.credentials import CHUNK, ended_participants
from tests.meetings.conftest import Hall


async def test_ended_participants_in_chunks(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "organizer"})
    await hall.join("olivia", meeting)
    waiting = uuid.UUID((await hall.join(None, meeting, name="Waiting"))["me"]["id"])
    strangers = {uuid.uuid4() for _ in range(2 * CHUNK + 7)}
    async with hall.world.rt.database.session(unscoped=True, readonly=True) as db:
        ended = await ended_participants(db, strangers | {waiting})
    assert ended == strangers  # unknown ids end; the one waiting in the lobby does not
