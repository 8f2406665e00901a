"""An asyncio client of the Janus WebSocket API (subprotocol ``janus-protocol``).

One ``JanusClient`` is one WebSocket and one Janus session. A reader task matches replies
to requests by ``transaction`` and hands every other message to the ``Handle`` it names
(``sender``); a keepalive task keeps the session alive. When the socket or the session
dies, every pending request fails with ``JanusConnectionError`` and ``lost`` is set: the
caller reconnects with a new client and recreates what it had (handles do not survive).

No business logic here: the caller decides what to ask Janus for.
"""

# Every call takes a ``timeout`` with a bounded default, rather than relying on callers to
# wrap it in ``asyncio.timeout``: a request to Janus must never wait forever by omission.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

log = structlog.get_logger("overleg.media")

JSON = dict[str, Any]

VIDEOROOM = "janus.plugin.videoroom"
#: Janus' own default session_timeout is 60 s; a keepalive every 15 s leaves room for three
#: to be late before the session is reaped
KEEPALIVE_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 10.0
#: events nobody consumes are dropped (oldest first, logged) past this many per handle
EVENTS_MAX = 1000


class JanusError(Exception):
    """Janus (the core or the plugin) refused a request: ``code`` and ``reason`` as sent."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusConnectionError(JanusError):
    """The socket could not be opened, or the socket or session died (code 0)."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


class JanusTimeout(JanusError):
    """No reply within the request's timeout (code 0). The request may still take effect."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


@dataclass
class _Pending:
    future: asyncio.Future[JSON]
    #: plugin messages may be answered ``ack`` first and by an ``event`` later
    wait_event: bool


@dataclass(eq=False)
class Handle:
    """A plugin handle on the client's session.

    ``events`` receives, in order, every message Janus sends about this handle that is not
    the reply to a request: core events (``webrtcup``, ``media``, ``slowlink``, ``hangup``,
    ``detached``) and plugin events without a transaction (videoroom ``joined`` is a reply,
    but ``publishers``, ``leaving``, ``kicked``, ``unpublished`` ... are events). Each item
    is the whole Janus message (``janus``, ``sender``, optional ``plugindata``/``jsep``).
    """

    client: JanusClient
    id: int
    plugin: str
    events: asyncio.Queue[JSON] = field(
        default_factory=lambda: asyncio.Queue(maxsize=EVENTS_MAX), repr=False
    )
    detached: bool = False

    async def request(
        self, body: JSON, jsep: JSON | None = None, *, timeout: float = REQUEST_TIMEOUT_SECONDS
    ) -> tuple[JSON, JSON | None]:
        """Send a plugin message; return the plugin's reply data and its JSEP (if any).

        Synchronous replies (``success``) and asynchronous ones (``ack``, then an ``event``
        with the same transaction) are both awaited. Raises ``JanusError`` for a core
        ``error`` and for a plugin reply carrying ``error_code``/``error``."""
        message: JSON = {"janus": "message", "handle_id": self.id, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self.client._call(message, timeout=timeout, wait_event=True)
        plugindata = reply.get("plugindata") or {}
        data: JSON = plugindata.get("data") or {}
        if "error_code" in data or "error" in data:
            raise JanusError(int(data.get("error_code", 0)), str(data.get("error", "")))
        reply_jsep: JSON | None = reply.get("jsep")
        return data, reply_jsep

    async def trickle(
        self, candidate: JSON | list[JSON] | None, *, timeout: float = REQUEST_TIMEOUT_SECONDS
    ) -> None:
        """Send one ICE candidate, several, or (``None``) the end of candidates."""
        message: JSON = {"janus": "trickle", "handle_id": self.id}
        if isinstance(candidate, list):
            message["candidates"] = candidate
        else:
            message["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.client._call(message, timeout=timeout)

    async def hangup(self, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        """Close the handle's PeerConnection (the handle stays attached)."""
        await self.client._call({"janus": "hangup", "handle_id": self.id}, timeout=timeout)

    async def detach(self, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        """Detach from the plugin. Idempotent; a no-op once the client is lost or closed."""
        if self.detached:
            return
        self.detached = True
        self.client._handles.pop(self.id, None)
        if self.client.lost.is_set() or self.client._closing:
            return
        with contextlib.suppress(JanusError):
            # "no such handle" (Janus detached it already) means the same as success
            await self.client._call({"janus": "detach", "handle_id": self.id}, timeout=timeout)


class JanusClient:
    """One WebSocket connection to Janus and one session on it. Use ``connect``."""

    def __init__(
        self, ws: ClientConnection, *, api_secret: str | None, url: str, keepalive: float
    ) -> None:
        self.url = url
        self.session_id = 0
        #: set when the socket or the session died; never set by ``close()``
        self.lost = asyncio.Event()
        self._ws = ws
        self._api_secret = api_secret
        self._keepalive_seconds = keepalive
        self._pending: dict[str, _Pending] = {}
        self._handles: dict[int, Handle] = {}
        self._closing = False
        self._counter = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        api_secret: str | None,
        keepalive: float = KEEPALIVE_SECONDS,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> JanusClient:
        """Open the socket and create a session. Raises ``JanusConnectionError`` when Janus
        cannot be reached and ``JanusError`` when it refuses the session (403: wrong
        ``api_secret``)."""
        try:
            ws = await connect(
                url,
                subprotocols=[Subprotocol("janus-protocol")],
                open_timeout=timeout,
                # loopback or a private network: never through an HTTP proxy from the env
                proxy=None,
                compression=None,
                max_size=4 * 1024 * 1024,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise JanusConnectionError(f"cannot connect to {url}: {exc}") from exc
        client = cls(ws, api_secret=api_secret, url=url, keepalive=keepalive)
        client._reader = asyncio.create_task(client._read(), name=f"janus-reader {url}")
        try:
            reply = await client._call({"janus": "create"}, timeout=timeout)
            client.session_id = int(reply["data"]["id"])
        except BaseException:
            await client.close()
            raise
        client._keepalive = asyncio.create_task(client._keep_alive(), name=f"janus-ka {url}")
        return client

    async def info(self, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> JSON:
        """The server's ``info`` reply (name, version, plugins, transports ...)."""
        return await self._call({"janus": "info"}, timeout=timeout, session=False)

    async def attach(self, plugin: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Handle:
        """Attach to ``plugin`` (e.g. ``VIDEOROOM``) and return the new handle."""
        reply = await self._call({"janus": "attach", "plugin": plugin}, timeout=timeout)
        handle = Handle(client=self, id=int(reply["data"]["id"]), plugin=plugin)
        self._handles[handle.id] = handle
        return handle

    @property
    def handles(self) -> list[Handle]:
        """The handles attached through this client and not detached."""
        return list(self._handles.values())

    async def close(self, *, timeout: float = 2.0) -> None:
        """Destroy the session (best effort, bounded) and close the socket. Idempotent."""
        if self._closing:
            return
        self._closing = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self.session_id and not self.lost.is_set():
            with contextlib.suppress(JanusError):
                await self._call({"janus": "destroy"}, timeout=timeout, force=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), timeout)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._keepalive is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        self._fail_pending("client closed")

    # -- internals ---------------------------------------------------------------------

    async def _call(
        self,
        message: JSON,
        *,
        timeout: float,
        wait_event: bool = False,
        session: bool = True,
        force: bool = False,
    ) -> JSON:
        if self.lost.is_set() or (self._closing and not force):
            raise JanusConnectionError(f"connection to {self.url} is gone")
        transaction = f"{self._prefix}-{next(self._counter)}"
        message = {**message, "transaction": transaction}
        if self._api_secret is not None:
            message["apisecret"] = self._api_secret
        if session and self.session_id:
            message["session_id"] = self.session_id
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = _Pending(future, wait_event)
        try:
            try:
                await self._ws.send(json.dumps(message))
            except ConnectionClosed as exc:
                raise JanusConnectionError(f"connection to {self.url} closed: {exc}") from exc
            try:
                reply = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise JanusTimeout(f"no reply to {message['janus']} within {timeout} s") from None
        finally:
            self._pending.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return reply

    async def _read(self) -> None:
        reason = "socket closed"
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("janus.bad_json", url=self.url)
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except ConnectionClosed as exc:
            reason = f"socket closed: {exc}"
        finally:
            self._die(reason)

    def _dispatch(self, message: JSON) -> None:
        kind = message.get("janus")
        pending = self._pending.get(str(message.get("transaction", "")))
        if pending is not None and not pending.future.done():
            if kind == "ack" and pending.wait_event:
                return  # the plugin answers later, in an event with this transaction
            pending.future.set_result(message)
            return
        if kind == "timeout":
            self._die("session timed out")
            return
        sender = message.get("sender")
        handle = self._handles.get(sender) if isinstance(sender, int) else None
        if handle is None:
            # late acks (the plugin's event came first) and timed-out replies end here
            if kind != "ack":
                log.debug("janus.unrouted", url=self.url, kind=kind, sender=sender)
            return
        if kind == "detached":
            handle.detached = True
            self._handles.pop(handle.id, None)
        if handle.events.full():
            # nobody is reading this handle's events: keep the newest, say so
            handle.events.get_nowait()
            log.warning("janus.events_dropped", url=self.url, handle=handle.id)
        handle.events.put_nowait(message)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            try:
                await self._call({"janus": "keepalive"}, timeout=self._keepalive_seconds)
            except JanusError as exc:
                self._die(f"keepalive failed: {exc}")
                return

    def _die(self, reason: str) -> None:
        if not self._closing and not self.lost.is_set():
            log.warning("janus.lost", url=self.url, session=self.session_id, reason=reason)
            self.lost.set()
            if self._keepalive is not None:
                self._keepalive.cancel()
            # the session may be gone while the socket is up (timeout): close it too
            self._closer = asyncio.get_running_loop().create_task(self._ws.close())
        self._fail_pending(reason)

    def _fail_pending(self, reason: str) -> None:
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(JanusConnectionError(reason))
