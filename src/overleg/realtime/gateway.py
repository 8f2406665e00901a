"""The WebSocket gateway of one node: its connections, their event streams, presence.

Guarantees, per connection:

- only events committed in the database are sent (the outbox publishes after commit);
- only events addressed to the connection's user, of its own organisation (or, for a
  meeting participant reached by a participant credential, addressed to the participant
  id, of the meeting's organisation);
- in the order of their ids, each once, none skipped: a missed id is read from the
  outbox (see ``stream``); after a reconnect with ``last_event_id`` the missed ones come
  first (``outbox.missed``), or a ``resync`` when that is impossible;
- before anything is sent, the session is checked (one query per batch of events for all
  its recipients), so a signed-out or disabled user's socket is closed at the next event
  at the latest; idle sockets are checked every ``OVERLEG_EVENTS_SESSION_CHECK_SECONDS``.
  A participant's "session" is its place in the meeting
  (``overleg.meetings.credentials.ended_participants``): once it left, was removed or
  denied, or the meeting ended, its socket gets ``GRACE_SECONDS`` more (so the last word
  reaches it) and is then closed like an ended session's;
- participants have no presence (they are never counted online, their
  ``presence.subscribe`` and ``typing`` messages are ignored);
- a client that does not read is disconnected when its queue
  (``OVERLEG_EVENTS_QUEUE_SIZE``) overflows; nothing ever waits for one client's socket
  except that client's own writer task.

Besides delivering, the gateway polls the outbox heads of the organisations it serves
every ``OVERLEG_EVENTS_POLL_SECONDS`` (the safety net when Redis or a publish failed),
renews its presence entries in Redis, and purges expired events and tickets every
``OVERLEG_EVENTS_PURGE_INTERVAL_SECONDS`` (every node may: purging is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from starlette.websockets import WebSocket

from overleg.audit.chain import append
from overleg.kernel.clock import now
from overleg.kernel.errors import OverlegError
from overleg.kernel.events import outbox
from overleg.kernel.events.broker import PRESENCE, TYPING, Envelope
from overleg.kernel.runtime import Runtime
from overleg.realtime import presence
from overleg.realtime.auth import ended_sessions
from overleg.realtime.connection import Connection
from overleg.realtime.protocol import (
    Close,
    PresenceSubscribe,
    ProtocolViolation,
    Typing,
    data_json,
    frame,
    parse,
)
from overleg.realtime.stream import TenantStream
from overleg.security.principal import Principal, system

log = structlog.get_logger("overleg.realtime")

#: how long a new connection waits for its organisation's stream to be ready
JOIN_TIMEOUT = 10.0
#: how long closing a socket may take before it is left to the server
CLOSE_TIMEOUT = 1.0


class Gateway:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings
        self.streams: dict[uuid.UUID, TenantStream] = {}
        self.connections: set[Connection] = set()
        node_id = getattr(rt.broker, "node_id", None) or secrets.token_hex(8)
        self.presence = presence.PresenceTracker(
            getattr(rt.broker, "redis", None),
            node_id=node_id,
            ttl=self.settings.presence_ttl_seconds,
        )
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()  # set (and replaced) when a connection comes or goes
        self.trusted_proxies = [
            ipaddress.ip_network(p, strict=False) for p in self.settings.trusted_proxies
        ]

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the broker (start it first) and start the periodic work."""
        s = self.settings
        self._unsubscribe = self.rt.broker.subscribe(self._on_envelope, self._on_resume)
        self._tasks = [
            self._every(s.events_poll_seconds, self.poll_heads, "events-poll"),
            self._every(s.events_session_check_seconds, self.check_sessions, "events-sessions"),
        ]
        if self.presence.redis is not None:
            self._tasks.append(
                self._every(s.presence_ttl_seconds / 3, self.presence.heartbeat, "presence")
            )
        if s.events_purge_interval_seconds > 0:
            self._tasks.append(self._every(s.events_purge_interval_seconds, self.purge, "purge"))
        self.rt.gateway = self

    async def stop(self) -> None:
        """Close every socket ("going away": clients reconnect elsewhere) and stop."""
        if self.rt.gateway is self:
            self.rt.gateway = None
        if self._unsubscribe is not None:
            self._unsubscribe()
        for conn in list(self.connections):
            conn.close(Close.GOING_AWAY, "the server is shutting down")
        for t in self._tasks:
            t.cancel()
        for stream in list(self.streams.values()):
            await stream.stop()
        self.streams.clear()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.presence.clear()

    def _every(
        self, seconds: float, job: Callable[[], Awaitable[object]], name: str
    ) -> asyncio.Task[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception as e:  # a periodic job must survive the database going away
                    with contextlib.suppress(Exception):  # and a log sink that fails
                        log.warning("gateway_job_failed", job=name, error=repr(e))

        return asyncio.create_task(loop(), name=name)

    # -- broker input ----------------------------------------------------------------------

    def _on_envelope(self, env: Envelope) -> None:
        stream = self.streams.get(env.tenant_id)
        if stream is not None:
            stream.offer(env)

    def _on_resume(self) -> None:
        for stream in list(self.streams.values()):
            stream.request_fill()

    # -- database helpers (used by the streams) ------------------------------------------

    async def head_of(self, tenant_id: uuid.UUID) -> int:
        async with self.rt.database.session(tenant_id=tenant_id, readonly=True) as db:
            return (await outbox.heads(db, [tenant_id]))[tenant_id]

    async def read_after(self, tenant_id: uuid.UUID, after: int, limit: int) -> list[Envelope]:
        async with self.rt.database.session(tenant_id=tenant_id, readonly=True) as db:
            return await outbox.read(db, tenant_id, after=after, limit=limit)

    async def _ended(self, conns: Iterable[Connection], *, strict: bool = False) -> set[Connection]:
        """Those of ``conns`` that may no longer receive events: their user session ended
        (``auth.ended_sessions``; ``strict``: also when its row is gone), or their
        participant is out of the meeting for longer than the grace period. At most one
        query per kind, in one unscoped session."""
        by_session: dict[uuid.UUID, list[Connection]] = {}
        by_participant: dict[uuid.UUID, list[Connection]] = {}
        for c in conns:
            (by_participant if c.participant else by_session).setdefault(c.session_id, []).append(c)
        if not by_session and not by_participant:
            return set()
        ended: set[Connection] = set()
        async with self.rt.database.session(unscoped=True, readonly=True) as db:
            if by_session:
                for sid in await ended_sessions(db, by_session, strict=strict):
                    ended.update(by_session.get(sid, ()))
            if by_participant:
                # imported here: realtime must not need meetings to load (meetings reaches
                # sockets through the kernel's outbox, not through the gateway)
                from overleg.meetings.credentials import ended_participants

                for pid in await ended_participants(db, by_participant):
                    ended.update(by_participant.get(pid, ()))
        return ended

    # -- delivery ------------------------------------------------------------------------

    async def deliver(
        self, stream: TenantStream, events: Sequence[Envelope], ephemeral: Sequence[Envelope]
    ) -> None:
        """Send ``events`` (in order) and ``ephemeral`` envelopes to their connections on
        this node, after checking the sessions of all of them in one query."""
        plan: list[tuple[int | None, str, list[Connection]]] = []
        for env in events:
            conns = [c for r in env.recipients for c in stream.users.get(r, ())]
            if conns:
                plan.append((env.seq, frame(env.seq, env.type, env.data), conns))
        for env in ephemeral:
            if env.kind == TYPING:
                conns = [c for r in env.recipients for c in stream.users.get(r, ())]
            elif env.kind == PRESENCE:
                conns = list(stream.watchers.get(env.subject, ())) if env.subject else []
            else:
                continue
            if conns:
                plan.append((None, frame(None, env.type, env.data), conns))
        if not plan:
            return
        ended = await self._ended({c for _, _, conns in plan for c in conns if c.open})
        for event_id, text, conns in plan:
            for c in conns:
                if c in ended:
                    c.session_ended()
                else:
                    c.push(text, event_id)

    def resync_all(self, stream: TenantStream, position: int, reason: str) -> None:
        text = frame(position, "resync", data_json({"reason": reason}))
        for c in stream.connections():
            c.push(text, position)

    # -- one connection --------------------------------------------------------------------

    async def serve(self, ws: WebSocket, principal: Principal, last_event_id: int | None) -> None:
        """Run an authenticated client's socket until it ends: accept, catch up, then send
        live events and read client messages."""
        conn = Connection(principal, limit=self.settings.events_queue_size)
        await ws.accept()
        stream = self.streams.get(conn.tenant_id)
        if stream is None:
            stream = TenantStream(self, conn.tenant_id)
            self.streams[conn.tenant_id] = stream
            stream.start()
        stream.add(conn)
        self.connections.add(conn)
        self._notify()
        tasks: list[asyncio.Task[None]] = []
        counted = False
        try:
            tasks.append(asyncio.create_task(self._writer(ws, conn)))
            counted = not conn.participant  # online before its first message goes out
            if counted and await self.presence.connected(conn.tenant_id, conn.recipient_id):
                await self._announce(conn.tenant_id, conn.recipient_id, online=True)
            await asyncio.wait_for(stream.ready.wait(), JOIN_TIMEOUT)
            await self._catch_up(stream, conn, last_event_id)
            tasks.append(asyncio.create_task(self._reader(ws, conn)))
            await conn.done.wait()
        except TimeoutError:
            log.warning("socket_setup_timeout", tenant=str(conn.tenant_id))
            conn.close(1013, "try again later")
        except Exception:  # the database went away during the catch-up, say
            log.exception("socket_setup_failed", tenant=str(conn.tenant_id))
            conn.close(1011, "internal error, reconnect")
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            conn.gone()
            self.connections.discard(conn)
            self._notify()
            stream.remove(conn)
            if stream.empty and self.streams.get(conn.tenant_id) is stream:
                del self.streams[conn.tenant_id]
                await stream.stop()
            if counted and await self.presence.disconnected(conn.tenant_id, conn.recipient_id):
                with contextlib.suppress(Exception):
                    await self._announce(conn.tenant_id, conn.recipient_id, online=False)
            if conn.close_code is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        ws.close(conn.close_code, conn.close_reason), CLOSE_TIMEOUT
                    )

    async def _catch_up(
        self, stream: TenantStream, conn: Connection, last_event_id: int | None
    ) -> None:
        # Live events for this connection are held since stream.add(); the stream has
        # delivered everything up to its watermark, and the outbox's head is at least that.
        if last_event_id is None:
            position = stream.watermark
            conn.send_first(frame(position, "resync", data_json({"reason": "new"})), position)
        else:
            s = self.settings
            # half the queue: the live events held meanwhile need room too
            limit = min(s.events_replay_max, max(1, s.events_queue_size // 2))
            async with self.rt.database.session(tenant_id=conn.tenant_id, readonly=True) as db:
                m = await outbox.missed(
                    db,
                    conn.tenant_id,
                    conn.recipient_id,
                    after=last_event_id,
                    not_before=now() - timedelta(seconds=s.events_retention_seconds),
                    limit=limit,
                )
            position = m.head
            if m.resync is not None:
                conn.send_first(
                    frame(position, "resync", data_json({"reason": m.resync})), position
                )
            for env in m.events:
                conn.send_first(frame(env.seq, env.type, env.data), env.seq)
        conn.go_live(after=position)

    async def _writer(self, ws: WebSocket, conn: Connection) -> None:
        try:
            while True:
                while not conn.queue:
                    if conn.done.is_set():
                        return
                    conn.wake.clear()
                    await conn.wake.wait()
                if conn.done.is_set():
                    return
                await ws.send_text(conn.queue.popleft())
        except asyncio.CancelledError:
            raise
        except Exception:
            conn.gone()  # the socket is gone

    async def _reader(self, ws: WebSocket, conn: Connection) -> None:
        limit = self.settings.events_max_client_message_bytes
        try:
            while conn.open:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    conn.gone()
                    return
                if msg.get("bytes") is not None:
                    raise ProtocolViolation(Close.UNSUPPORTED, "binary messages are not accepted")
                parsed = parse(msg.get("text") or "", max_bytes=limit)
                if conn.participant:
                    # no presence, no typing for meeting participants: a well-formed
                    # message is ignored (the socket stays), a malformed one still closes
                    continue
                if isinstance(parsed, Typing):
                    await self._typing(conn, parsed)
                elif isinstance(parsed, PresenceSubscribe):
                    await self._subscribe_presence(conn, parsed)
        except ProtocolViolation as e:
            conn.close(e.code, e.reason)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("socket_read_failed", error=repr(e))
            conn.gone()

    # -- client messages -------------------------------------------------------------------

    async def _session_holds(self, conn: Connection) -> bool:
        if conn not in await self._ended([conn], strict=True):
            return True
        conn.session_ended()
        return False

    async def _typing(self, conn: Connection, msg: Typing) -> None:
        # imported here: messaging builds on the kernel's outbox, not on the gateway
        from overleg.messaging.service import typing_audience

        if not conn.typing.take():
            return  # rate limit: typing indicators are worth nothing when they flood
        if not await self._session_holds(conn):
            return
        try:
            async with self.rt.database.session(tenant_id=conn.tenant_id) as db, db.begin():
                audience = await typing_audience(
                    conn.principal, db, msg.container_type, msg.container_id
                )
        except OverlegError as e:  # not a member (NotFound), not allowed: tell nobody
            await self._audit_refusal(e)
            return
        recipients = tuple(u for u in dict.fromkeys(audience) if u != conn.user_id)
        if not recipients:
            return
        data = {
            "user_id": str(conn.user_id),
            "container_type": msg.container_type,
            "container_id": str(msg.container_id),
        }
        self.rt.broker.publish(
            [Envelope(TYPING, conn.tenant_id, "typing", data_json(data), recipients=recipients)]
        )

    async def _audit_refusal(self, err: OverlegError) -> None:
        entry: Any = err.audit
        if entry is None:
            return
        async with self.rt.database.transaction(tenant_id=entry.tenant_id) as db:
            await append(db, entry)

    async def _subscribe_presence(self, conn: Connection, msg: PresenceSubscribe) -> None:
        if not await self._session_holds(conn):
            return
        async with self.rt.database.session(tenant_id=conn.tenant_id, readonly=True) as db:
            ids = await presence.visible(conn.principal, db, sorted(msg.user_ids))
            chosen = await presence.chosen(db, ids)
        online = await self.presence.online(conn.tenant_id, ids)
        stream = self.streams.get(conn.tenant_id)
        if stream is None or not conn.open:
            return
        stream.watch(conn, frozenset(ids))
        for uid in ids:
            state = presence.effective(chosen.get(uid), uid in online)
            conn.push(frame(None, "presence", data_json({"user_id": uid, "availability": state})))

    async def _announce(self, tenant_id: uuid.UUID, user_id: uuid.UUID, *, online: bool) -> None:
        """Tell every node's subscribers that ``user_id`` came online or went offline."""
        choice = None
        if online:
            async with self.rt.database.session(tenant_id=tenant_id, readonly=True) as db:
                choice = (await presence.chosen(db, [user_id])).get(user_id)
            if choice == "offline":
                return  # appears offline: nothing changes for anyone
        state = presence.effective(choice, online)
        data = data_json({"user_id": user_id, "availability": state})
        self.rt.broker.publish([Envelope(PRESENCE, tenant_id, "presence", data, subject=user_id)])

    # -- periodic work ---------------------------------------------------------------------

    async def poll_heads(self) -> None:
        """The relay's safety net: pick up committed events whose envelopes were lost."""
        if not self.streams:
            return
        async with self.rt.database.session(unscoped=True, readonly=True) as db:
            found = await outbox.heads(db, list(self.streams))
        for tenant_id, head in found.items():
            stream = self.streams.get(tenant_id)
            if stream is not None:
                stream.note_head(head)

    async def check_sessions(self) -> None:
        """Close the sockets of sessions that ended while no event came their way."""
        for c in await self._ended(list(self.connections), strict=True):
            c.session_ended()

    async def purge(self) -> None:
        from overleg.realtime.service import purge_expired

        async with self.rt.database.transaction(unscoped=True) as db:
            await purge_expired(system(job="events.purge"), db)

    # -- introspection (tests, metrics) ----------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, checking whenever a connection comes or goes."""
        while not predicate():
            await self._changed.wait()

    def count(self, recipient_id: uuid.UUID | None = None) -> int:
        """Open connections on this node: all, or those of one user or participant."""
        if recipient_id is None:
            return len(self.connections)
        return sum(1 for c in self.connections if c.recipient_id == recipient_id)
