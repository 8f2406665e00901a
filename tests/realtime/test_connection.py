"""A connection's queue: catch-up before live events, each id once, bounded."""

from __future__ import annotations

import uuid

from overleg.realtime.connection import Connection, TokenBucket
from overleg.realtime.protocol import Close
from overleg.security.principal import Principal, PrincipalKind


def _conn(limit: int = 10) -> Connection:
    p = Principal(
        kind=PrincipalKind.USER,
        tenant_id=uuid.uuid4(),
        label="mia@contoso.example",
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
    )
    return Connection(p, limit=limit)


async def test_live_events_wait_for_the_catch_up_and_none_comes_twice() -> None:
    c = _conn()
    c.push("live 2", 2)  # arrives while the missed events are read: held back
    c.push("typing", None)
    c.push("live 3", 3)
    for n in (1, 2, 3):  # the catch-up read up to 3 (it saw 2 and 3 committed)
        c.send_first(f"missed {n}", n)
    c.go_live(after=3)
    c.push("live 3", 3)  # the stream, lagging, offers 3 again
    c.push("live 4", 4)
    c.push("live 4", 4)
    assert list(c.queue) == ["missed 1", "missed 2", "missed 3", "typing", "live 4"]
    assert c.open


async def test_a_full_queue_closes_the_connection() -> None:
    c = _conn(limit=2)
    c.go_live(after=0)
    for n in (1, 2, 3):
        c.push(f"event {n}", n)
    assert not c.open
    assert (c.close_code, c.close_reason) == (
        Close.TOO_SLOW,
        "too slow: the event queue overflowed",
    )
    assert not c.queue  # what was waiting is dropped: it will never be sent
    c.push("event 4", 4)
    assert not c.queue


async def test_typing_is_rate_limited() -> None:
    bucket = TokenBucket(rate=0.0, burst=3)
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
