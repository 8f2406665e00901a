"""One organisation's event stream on this node: in order, without gaps, exactly once.

Events reach a node from up to three places: its own commits (at once), Redis (the other
nodes' commits, in publish order, which across nodes is not commit order, and not at all
while Redis is down) and the outbox itself. The stream keeps a watermark, the number of
the last event it delivered, and delivers N only after N-1. When N arrives and N-1 has
not, or the periodic poll of the outbox heads shows a higher number, or the broker says
it may have missed envelopes, the stream reads the missing events from the outbox. That
is always possible because a tenant's events commit in number order (see
``overleg.kernel.events.outbox``): when N is visible, so is everything before it. If
they have been purged meanwhile (a node far behind), the connections get ``resync``.

One task per stream does the delivering, so a tenant's events go out in order; a client
with a full queue is disconnected (``Connection.push``), never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog

from overleg.kernel.events.broker import Envelope
from overleg.realtime.connection import Connection

if TYPE_CHECKING:
    from overleg.realtime.gateway import Gateway

log = structlog.get_logger("overleg.realtime")

#: events read from the outbox at a time when catching up
FILL_BATCH = 500
#: ephemeral envelopes (typing, presence) waiting at most; older ones are dropped
EPHEMERAL_MAX = 10_000


class TenantStream:
    def __init__(self, gateway: Gateway, tenant_id: uuid.UUID) -> None:
        self.gateway = gateway
        self.tenant_id = tenant_id
        #: the last event number delivered (valid once ``ready`` is set)
        self.watermark = 0
        #: the highest event number known to be committed
        self.known_head = 0
        self.fill = False
        self.pending: dict[int, Envelope] = {}
        self.ephemeral: list[Envelope] = []
        #: recipient id (a user's, or a meeting participant's) -> its connections
        self.users: dict[uuid.UUID, set[Connection]] = {}
        #: user id -> the connections following that user's presence
        self.watchers: dict[uuid.UUID, set[Connection]] = {}
        self.ready = asyncio.Event()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    # -- membership --------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        self.users.setdefault(conn.recipient_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        _discard(self.users, conn.recipient_id, conn)
        self.watch(conn, frozenset())

    def watch(self, conn: Connection, user_ids: frozenset[uuid.UUID]) -> None:
        """Make ``conn`` follow the presence of exactly ``user_ids``."""
        for u in conn.presence_of - user_ids:
            _discard(self.watchers, u, conn)
        for u in user_ids - conn.presence_of:
            self.watchers.setdefault(u, set()).add(conn)
        conn.presence_of = user_ids

    @property
    def empty(self) -> bool:
        return not self.users

    def connections(self) -> Iterator[Connection]:
        for conns in list(self.users.values()):
            yield from list(conns)

    # -- input (synchronous: called by the broker's handler) -----------------------------

    def offer(self, env: Envelope) -> None:
        if env.seq is None:
            if len(self.ephemeral) >= EPHEMERAL_MAX:
                del self.ephemeral[0]
            self.ephemeral.append(env)
        else:
            if self.ready.is_set() and env.seq <= self.watermark:
                return  # delivered already (it came back from Redis, or the outbox was first)
            self.pending[env.seq] = env
            self.known_head = max(self.known_head, env.seq)
        self.wake.set()

    def note_head(self, head: int) -> None:
        """The outbox says events up to ``head`` are committed."""
        if head > self.known_head:
            self.known_head = head
            self.wake.set()

    def request_fill(self) -> None:
        """Envelopes may have been lost: look in the outbox."""
        self.fill = True
        self.wake.set()

    # -- the task ------------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"events-{self.tenant_id}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                head = await self.gateway.head_of(self.tenant_id)
                break
            except Exception as e:  # the database is away: keep trying, clients wait
                with contextlib.suppress(Exception):  # a failing log sink must not end the task
                    log.warning("stream_init_failed", tenant=str(self.tenant_id), error=repr(e))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self.watermark = head
        self.known_head = max(self.known_head, head)
        self.ready.set()
        self.wake.set()
        backoff = 0.1
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self._drain()
                backoff = 0.1
            except Exception as e:
                with contextlib.suppress(Exception):  # a failing log sink must not end the task
                    log.warning("stream_delivery_failed", tenant=str(self.tenant_id), error=repr(e))
                self.fill = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self.wake.set()

    async def _drain(self) -> None:
        while True:
            for seq in [s for s in self.pending if s <= self.watermark]:
                del self.pending[seq]
            batch: list[Envelope] = []
            nxt = self.watermark + 1
            while nxt in self.pending:
                batch.append(self.pending.pop(nxt))
                nxt += 1
            ephemeral, self.ephemeral = self.ephemeral, []
            if batch or ephemeral:
                await self.gateway.deliver(self, batch, ephemeral)
                if batch:
                    last = batch[-1].seq
                    assert last is not None
                    self.watermark = last
                continue
            if not (self.fill or self.pending or self.known_head > self.watermark):
                return
            self.fill = False
            rows = await self.gateway.read_after(self.tenant_id, self.watermark, FILL_BATCH)
            if rows:
                first = rows[0].seq
            elif self.pending:
                first = min(self.pending)
            else:
                first = self.known_head + 1
            assert first is not None
            if first > self.watermark + 1:
                # Numbers below ``first`` are committed but not stored any more (purged
                # while this node was behind): the clients cannot catch up event by event.
                with contextlib.suppress(Exception):  # else the gap would be retried forever
                    log.warning(
                        "stream_gap", tenant=str(self.tenant_id), lost=(self.watermark, first - 1)
                    )
                self.gateway.resync_all(self, first - 1, "gap")
                self.watermark = first - 1
            for env in rows:
                assert env.seq is not None
                self.pending[env.seq] = env


def _discard(index: dict[uuid.UUID, set[Connection]], key: uuid.UUID, conn: Connection) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del index[key]
