"""Brute-force protection with growing delays, in the spirit of Entra smart lockout.

Counters are kept per key:
- ``acctip:<user>:<ip>``  one account from one address (low threshold),
- ``acct:<user>``         one account from anywhere unfamiliar (higher threshold),
- ``ip:<ip>``             one address against any account (password spraying).

Past its threshold a key is blocked for 1, 2, 4, ... seconds after each further failure,
capped at ``max_delay``. Blocks always end, and a counter that has been quiet for twice the
cap starts over. Sign-ins from an address where the user signed in successfully before
("familiar") are judged by their own ``acctip`` key only, so an attacker elsewhere cannot
lock the real user out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.clock import now
from overleg.security.models import SignInThrottle


@dataclass(frozen=True)
class Limits:
    per_account_ip: int
    per_account: int
    per_ip: int
    max_delay_seconds: int


def delay_after(failures: int, threshold: int, max_delay: int) -> int:
    """Seconds to wait after ``failures`` failures on a key with ``threshold``."""
    if failures < threshold:
        return 0
    return min(max_delay, int(2 ** min(failures - threshold, 30)))


async def _get(db: AsyncSession, key: str) -> SignInThrottle | None:
    row = await db.get(SignInThrottle, key)
    return row


async def retry_after(db: AsyncSession, keys: list[str]) -> int:
    """Seconds until every key in ``keys`` allows another attempt (0: go ahead)."""
    t, wait = now(), 0
    for key in keys:
        row = await _get(db, key)
        if row and row.blocked_until and row.blocked_until > t:
            wait = max(wait, math.ceil((row.blocked_until - t).total_seconds()))
    return wait


async def _locked(db: AsyncSession, key: str, t: datetime) -> SignInThrottle:
    """The counter row of ``key``, created if missing and locked until the transaction
    ends, so that simultaneous failures neither collide creating it nor lose counts."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    await db.execute(
        insert(SignInThrottle)
        .values(key=key, failures=0, last_failure_at=t)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await db.scalar(
        select(SignInThrottle)
        .where(SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def fail(db: AsyncSession, keys: dict[str, int], limits: Limits) -> None:
    """Count one failure on each key (key -> threshold)."""
    t = now()
    quiet = timedelta(seconds=2 * limits.max_delay_seconds)
    for key in sorted(keys):  # one order everywhere: no deadlocks between failures
        threshold = keys[key]
        row = await _locked(db, key, t)
        if t - row.last_failure_at > quiet:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = t
        d = delay_after(row.failures, threshold, limits.max_delay_seconds)
        row.blocked_until = t + timedelta(seconds=d) if d else None
    await db.flush()


async def clear(db: AsyncSession, keys: list[str]) -> None:
    for key in sorted(keys):  # the order ``fail`` locks them in
        await db.execute(delete(SignInThrottle).where(SignInThrottle.key == key))


async def purge_stale(db: AsyncSession, older_than: datetime) -> int:
    result = await db.execute(
        delete(SignInThrottle).where(SignInThrottle.last_failure_at < older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


__all__ = ["Limits", "clear", "delay_after", "fail", "purge_stale", "retry_after"]
