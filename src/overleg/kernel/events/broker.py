"""Brokers carry envelopes from where they are published to every node's subscribers.

An ``Envelope`` is either a committed outbox event (``kind == "event"``, with its tenant
sequence number) or an ephemeral one (``"typing"``, ``"presence"``) that is never stored.

- ``Broker`` (the default, in-process): ``publish`` hands envelopes to this process's
  subscribers only. Enough for one server process.
- ``RedisBroker`` (``OVERLEG_REDIS_URL``): also sends them over one Redis pub/sub channel
  to every other process, and hands the other processes' envelopes to ours.

Contracts of ``publish``: it never blocks and never raises (it is called right after a
commit, which must not fail afterwards); local subscribers are called at once when
called on the broker's event loop, else scheduled onto it; Redis delivery is best effort.
Losing an envelope is allowed: committed events are in the outbox, and the gateway
catches up from there (on a gap in the numbers, on its periodic poll, and whenever the
broker tells its subscribers ``on_resume`` after a Redis outage). Ephemeral envelopes
that are lost stay lost: they are worth nothing a few seconds later.

Nothing the broker logs may stop it: its log calls go through ``_log``, which never
raises (structlog's ``PrintLogger`` raises when its stream is closed or a pipe broke,
unlike stdlib logging), and its two loops outlive any exception but cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = structlog.get_logger("overleg.events")

EVENT = "event"
TYPING = "typing"
PRESENCE = "presence"
KINDS = frozenset({EVENT, TYPING, PRESENCE})


@dataclass(frozen=True, slots=True)
class Envelope:
    """What travels between nodes. ``data`` is the event's JSON text (a JSON object)."""

    kind: str
    tenant_id: uuid.UUID
    type: str
    data: str
    #: the tenant's outbox sequence number (events only)
    seq: int | None = None
    #: user ids it is addressed to (events and typing)
    recipients: tuple[uuid.UUID, ...] = ()
    #: whose presence changed (presence only)
    subject: uuid.UUID | None = None


Handler = Callable[[Envelope], None]
ResumeHandler = Callable[[], None]


def _log(level: str, event: str, **fields: Any) -> None:
    """``log.<level>(event, **fields)``, but never raising: the broker logs from its error
    paths and from ``publish``, and a failing log sink must not end a loop that keeps the
    nodes together, nor fail a publish after a commit."""
    with contextlib.suppress(Exception):
        getattr(log, level)(event, **fields)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Broker:
    """In-process fan-out: the default, and the base of the Redis broker."""

    name = "in-process"

    def __init__(self) -> None:
        self._subscribers: list[tuple[Handler, ResumeHandler | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def healthy(self) -> bool:
        """Whether envelopes currently reach the other nodes (always, with none)."""
        return True

    def subscribe(
        self, on_message: Handler, on_resume: ResumeHandler | None = None
    ) -> Callable[[], None]:
        """Call ``on_message`` for every envelope from any node, on the broker's loop, and
        ``on_resume`` when envelopes may have been missed (after a Redis outage).
        Returns the function that unsubscribes."""
        entry = (on_message, on_resume)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(entry)

        return unsubscribe

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Hand ``envelopes`` to the subscribers of every node. Never blocks, never raises."""
        self._deliver_locally(envelopes)

    # -- internals ---------------------------------------------------------------------

    def _deliver_locally(self, envelopes: Sequence[Envelope]) -> None:
        if not envelopes or not self._subscribers:
            return
        loop = self._loop
        if loop is not None and not _on_loop(loop):
            # a closed loop (RuntimeError): nobody is listening any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._call, list(envelopes))
            return
        self._call(envelopes)

    def _call(self, envelopes: Sequence[Envelope]) -> None:
        for on_message, _ in list(self._subscribers):
            for env in envelopes:
                try:
                    on_message(env)
                except Exception:
                    _log("exception", "broker_subscriber_failed", kind=env.kind)

    def _resumed(self) -> None:
        for _, on_resume in list(self._subscribers):
            if on_resume is not None:
                try:
                    on_resume()
                except Exception:
                    _log("exception", "broker_resume_failed")


CHANNEL = "overleg:events"
_BACKOFF_MIN, _BACKOFF_MAX = 0.1, 2.0


def encode(env: Envelope, node_id: str) -> str:
    return json.dumps(
        {
            "n": node_id,
            "k": env.kind,
            "t": env.tenant_id.hex,
            "y": env.type,
            "d": env.data,
            "s": env.seq,
            "r": [r.hex for r in env.recipients],
            "u": env.subject.hex if env.subject else None,
        },
        separators=(",", ":"),
    )


def decode(raw: bytes | str) -> tuple[str, Envelope]:
    """(sending node, envelope). Raises ValueError/KeyError/TypeError on a bad message."""
    m: dict[str, Any] = json.loads(raw)
    if m["k"] not in KINDS:
        raise ValueError(f"unknown envelope kind {m['k']!r}")
    seq = m["s"]
    if seq is not None and not isinstance(seq, int):
        raise ValueError("bad sequence number")
    env = Envelope(
        kind=m["k"],
        tenant_id=uuid.UUID(hex=m["t"]),
        type=str(m["y"]),
        data=str(m["d"]),
        seq=seq,
        recipients=tuple(uuid.UUID(hex=r) for r in m["r"]),
        subject=uuid.UUID(hex=m["u"]) if m["u"] else None,
    )
    return str(m["n"]), env


class RedisBroker(Broker):
    """Fan-out over one Redis pub/sub channel shared by every node.

    One task publishes (in order, pipelined); one task listens, re-subscribing with
    backoff after any error (a task that died would leave the node deaf, or mute, to the
    others for good while the process looks fine). After every (re)subscription the subscribers'
    ``on_resume`` runs, so the gateway reads what it missed from the outbox. Envelopes
    this node sent come back from Redis and are ignored (they were delivered locally).
    Redis being down never fails a publish: the envelope is dropped (``backlog`` bounds
    what waits for Redis) and the outbox has the committed events.
    """

    name = "redis"

    def __init__(self, url: str, *, channel: str = CHANNEL, backlog: int = 10_000) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.node_id = secrets.token_hex(8)
        self.backlog = backlog
        self.redis: Redis | None = None
        self._out: asyncio.Queue[str] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = False
        self._publishing = True
        self._ready: asyncio.Event | None = None
        self._dropped = 0

    @property
    def healthy(self) -> bool:
        return self._subscribed and self._publishing

    async def start(self, *, wait: float = 2.0) -> None:
        """Connect and subscribe; waits up to ``wait`` seconds for the subscription, then
        returns anyway (the node works without Redis and keeps trying)."""
        await super().start()
        self.redis = Redis.from_url(
            self.url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 1),
        )
        self._out = asyncio.Queue(self.backlog)
        self._ready = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._publisher(), name="redis-broker-publish"),
            asyncio.create_task(self._listener(), name="redis-broker-listen"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        if self.redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.aclose()
        self.redis = None
        self._subscribed = False
        await super().stop()

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        self._deliver_locally(envelopes)
        out, loop = self._out, self._loop
        if out is None or loop is None or not envelopes:
            return  # not started (a CLI process): the other nodes read the outbox
        messages = [encode(env, self.node_id) for env in envelopes]
        if _on_loop(loop):
            self._enqueue(messages)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._enqueue, messages)

    def _enqueue(self, messages: list[str]) -> None:
        assert self._out is not None
        for m in messages:
            try:
                self._out.put_nowait(m)
            except asyncio.QueueFull:
                self._dropped += 1
                if self._dropped % 1000 == 1:
                    _log("warning", "redis_backlog_full", dropped=self._dropped)

    async def _publisher(self) -> None:
        assert self._out is not None
        backoff = _BACKOFF_MIN
        while True:
            batch = [await self._out.get()]
            while len(batch) < 500 and not self._out.empty():
                batch.append(self._out.get_nowait())
            try:
                assert self.redis is not None
                async with self.redis.pipeline(transaction=False) as pipe:
                    for m in batch:
                        pipe.publish(self.channel, m)
                    await pipe.execute()
                resumed, self._publishing, backoff = not self._publishing, True, _BACKOFF_MIN
                if resumed:
                    _log("info", "redis_publish_resumed")
            except Exception as e:  # Redis errors, and anything unforeseen: keep publishing
                # Lost for the other nodes, and so is what waits behind it: stale typing and
                # presence must not arrive late, and the events are in the outbox, where the
                # other nodes look when their subscription comes back.
                dropped = len(batch) + self._out.qsize()
                while not self._out.empty():
                    self._out.get_nowait()
                failing, self._publishing = self._publishing, False
                if not isinstance(e, (RedisError, OSError)):
                    _log("exception", "redis_publisher_failed", dropped=dropped)
                elif failing:
                    _log("warning", "redis_publish_failed", error=type(e).__name__, dropped=dropped)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _listener(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            assert self.redis is not None
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:  # the confirmation: from now on nothing published is missed
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None and msg["type"] == "subscribe":
                        break
                self._subscribed, backoff = True, _BACKOFF_MIN
                _log("info", "redis_subscribed", channel=self.channel, node=self.node_id)
                assert self._ready is not None
                self._ready.set()
                self._resumed()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg["type"] == "message":
                        self._received(msg["data"])
            except Exception as e:  # Redis errors, and anything unforeseen: subscribe again
                lost, self._subscribed = self._subscribed, False
                if not isinstance(e, (RedisError, OSError)):
                    _log("exception", "redis_listener_failed")
                elif lost:
                    _log("warning", "redis_subscription_lost", error=type(e).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                with contextlib.suppress(Exception):  # closing what broke may fail as well
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _received(self, raw: bytes | str) -> None:
        try:
            node, env = decode(raw)
        except (ValueError, KeyError, TypeError):
            _log("warning", "redis_bad_message")
            return
        if node != self.node_id:
            self._call((env,))
