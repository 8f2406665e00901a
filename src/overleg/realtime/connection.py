"""One client's socket as the gateway sees it: who it is, a bounded send queue, what it
follows. No I/O here; the gateway's reader and writer tasks do that."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import deque

from overleg.realtime.protocol import Close
from overleg.security.principal import Principal, PrincipalKind

_ids = itertools.count(1)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        t = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (t - self.at) * self.rate)
        self.at = t
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Connection:
    """A connected client: a user (by a session) or a meeting participant (by a
    participant credential, ``PrincipalKind.PARTICIPANT``).

    ``recipient_id`` is what events are addressed to: the user's id, or the participant's
    id (participants have no account here). ``session_id`` is what must stay valid: the
    user's session, or the participant itself (``participant`` tells which check applies).
    Participants have no presence and send no typing indicators.

    ``push`` never blocks: frames wait in a queue of at most ``limit``; one more closes
    the connection with ``Close.TOO_SLOW`` (a client that does not read must not hold
    memory or slow anyone else). While the connection catches up (``replaying``), live
    events are held back and sent after the missed ones.
    """

    def __init__(self, principal: Principal, *, limit: int) -> None:
        self.id = next(_ids)
        self.principal = principal
        self.tenant_id: uuid.UUID = principal.tenant_id
        if principal.kind is PrincipalKind.PARTICIPANT:
            raw = principal.extra.get("participant_id")
            assert raw is not None, "a participant principal carries its participant id"
            self.participant = True
            #: None for participants: they have no account here
            self.user_id: uuid.UUID | None = None
            self.recipient_id: uuid.UUID = uuid.UUID(raw)
            self.session_id: uuid.UUID = self.recipient_id
        else:
            assert principal.user_id is not None and principal.session_id is not None
            self.participant = False
            self.user_id = principal.user_id
            self.recipient_id = principal.user_id
            self.session_id = principal.session_id
        self.limit = limit
        self.queue: deque[str] = deque()
        self.wake = asyncio.Event()
        self.done = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        #: (event id or None, frame) held back while missed events are being replayed
        self.held: list[tuple[int | None, str]] | None = []
        #: the id of the last stored event queued (or covered by a resync)
        self.position = -1
        #: whose presence this connection follows (only people its user may see)
        self.presence_of: frozenset[uuid.UUID] = frozenset()
        self.typing = TokenBucket(rate=0.5, burst=5)

    @property
    def replaying(self) -> bool:
        return self.held is not None

    @property
    def open(self) -> bool:
        return not self.done.is_set()

    def push(self, frame: str, event_id: int | None = None) -> None:
        """Queue a live frame; ``event_id`` for stored events (each id at most once, in
        increasing order: the stream may offer one the catch-up already sent)."""
        if self.done.is_set():
            return
        if self.held is not None:
            if len(self.held) >= self.limit:
                self.close(Close.TOO_SLOW, "too slow: the event queue overflowed")
                return
            self.held.append((event_id, frame))
            return
        if event_id is not None:
            if event_id <= self.position:
                return
            self.position = event_id
        if len(self.queue) >= self.limit:
            self.close(Close.TOO_SLOW, "too slow: the event queue overflowed")
            return
        self.queue.append(frame)
        self.wake.set()

    def send_first(self, frame: str, event_id: int | None = None) -> None:
        """Queue ``frame`` ahead of the held live events (the replay of missed events)."""
        if self.done.is_set():
            return
        if event_id is not None:
            self.position = max(self.position, event_id)
        if len(self.queue) >= self.limit:
            self.close(Close.TOO_SLOW, "too slow: the event queue overflowed")
            return
        self.queue.append(frame)
        self.wake.set()

    def go_live(self, after: int) -> None:
        """End the replay, which covered events up to ``after``: from now on only newer
        events are sent, starting with the held ones."""
        held, self.held = self.held or [], None
        self.position = max(self.position, after)
        for event_id, frame in held:
            self.push(frame, event_id)

    def close(self, code: int, reason: str) -> None:
        """End the connection: the gateway closes the socket with ``code`` and ``reason``.
        Frames not yet sent are dropped. Idempotent; the first reason wins."""
        if self.done.is_set():
            return
        self.close_code, self.close_reason = code, reason
        self.gone()

    def session_ended(self) -> None:
        """Close because the user's session, or the participant's place in the meeting,
        ended (``Close.SESSION_ENDED``)."""
        if self.participant:
            self.close(Close.SESSION_ENDED, "you are no longer in the meeting")
        else:
            self.close(Close.SESSION_ENDED, "your session has ended")

    def gone(self) -> None:
        """The client went away or the socket failed: nothing more is sent."""
        self.queue.clear()
        self.wake.set()
        self.done.set()

    def __repr__(self) -> str:
        who = "participant" if self.participant else "user"
        return f"<Connection {self.id} {who}={self.recipient_id}>"
