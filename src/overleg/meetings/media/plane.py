"""The media plane: the configured Janus instances, their health, and rooms placed on them.

``MediaPlane`` keeps one ``JanusClient`` (a session plus one videoroom handle for room
administration) per configured instance. An instance that is down, or goes down, is
marked unavailable and reconnected in the background with exponential backoff; nothing
here ever stops the application. Callers learn about changes through ``on_change`` and
each instance's ``lost`` event: after a reconnect Janus may have restarted, and since
rooms created over the API are not permanent, the caller recreates its rooms and handles.

It knows rooms, secrets and Janus participant ids, not meetings: the meetings service
maps one to the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import structlog

from overleg.kernel.errors import ServiceUnavailable
from overleg.meetings.media.janus import (
    JSON,
    VIDEOROOM,
    Handle,
    JanusClient,
    JanusConnectionError,
    JanusError,
    JanusTimeout,
)

if TYPE_CHECKING:
    from overleg.settings import JanusServer, Settings

log = structlog.get_logger("overleg.media")

#: concurrent publishers (feeds) per room: cameras, microphones and screen shares of one
#: meeting each count once while sending; viewers do not count
MAX_PUBLISHERS = 100
#: videoroom error codes that mean "already gone", which removal treats as done
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428


class MediaUnavailable(ServiceUnavailable):
    """No Janus instance can serve the request (none configured, none up, or the one the
    room lives on is down or stopped answering)."""

    type = "media-unavailable"
    title = "Audio and video are unavailable"


class Load(NamedTuple):
    """How busy an instance is; compared as a tuple (participants first, then rooms)."""

    #: participants of every room on the instance: each person in a meeting has one
    #: (Janus' ``num_participants``, publisher-type handles whether sending or not)
    participants: int
    #: rooms on the instance: breaks ties, so new (still empty) rooms are spread too
    rooms: int


@dataclass(eq=False)
class MediaInstance:
    """One configured Janus instance and its connection state (read-only for callers)."""

    name: str
    url: str
    #: set while connected; cleared when the connection dies
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    #: set when the connection died; cleared on reconnect
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    #: counts successful connections: a change means sessions, handles (and, if Janus
    #: restarted, rooms) from before are gone
    generation: int = 0
    last_error: str | None = None
    client: JanusClient | None = None
    admin: Handle | None = None
    _attempted: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def up(self) -> bool:
        return self.connected.is_set()


Listener = Callable[[MediaInstance], None]


class MediaPlane:
    """Connections to every configured Janus instance, placement, and room administration.

    ``api_secret`` goes with every Janus request; ``admin_key`` with ``create`` and
    ``list`` (without it Janus hides private rooms, and ``load`` would count nothing)."""

    def __init__(
        self,
        servers: Sequence[JanusServer],
        *,
        api_secret: str | None,
        admin_key: str | None,
        retry_initial: float = 1.0,
        retry_max: float = 30.0,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
    ) -> None:
        names = [s.name for s in servers]
        if len(set(names)) != len(names):
            raise ValueError("media servers must have distinct names")
        self._instances = {s.name: MediaInstance(name=s.name, url=s.url) for s in servers}
        self._api_secret = api_secret
        self._admin_key = admin_key
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaPlane:
        """The plane for ``settings.media_janus`` with the configured secrets."""
        secret, key = settings.media_api_secret, settings.media_admin_key
        return cls(
            settings.media_janus,
            api_secret=secret.get_secret_value() if secret is not None else None,
            admin_key=key.get_secret_value() if key is not None else None,
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to every instance, each in its own background task, and return once each
        has been tried once. Never raises: instances that are down are retried."""
        if self._tasks:
            return
        for inst in self._instances.values():
            self._tasks.append(
                asyncio.create_task(self._supervise(inst), name=f"media {inst.name}")
            )
        if self._instances:
            waits = [inst._attempted.wait() for inst in self._instances.values()]
            # each first attempt is bounded by connect_timeout; this bound is only a guard
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), 2 * self._connect_timeout + 1)

    async def stop(self) -> None:
        """Stop reconnecting and close every connection (each supervisor closes its own;
        sessions are destroyed, rooms are left to Janus, which drops them on restart)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(instance)`` (synchronously, errors logged) whenever an instance
        comes up or goes down."""
        self._listeners.append(listener)

    # -- state ---------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """Whether any Janus instance is configured at all."""
        return bool(self._instances)

    @property
    def available(self) -> bool:
        """Whether any instance is up right now."""
        return any(inst.up for inst in self._instances.values())

    @property
    def instances(self) -> list[MediaInstance]:
        """Every configured instance, in configuration order."""
        return list(self._instances.values())

    def instance(self, name: str) -> MediaInstance:
        """The instance called ``name``; ``MediaUnavailable`` if none is configured so."""
        try:
            return self._instances[name]
        except KeyError:
            raise MediaUnavailable(f"media server {name!r} is not configured") from None

    # -- placement -----------------------------------------------------------------------

    async def load(self, name: str) -> Load:
        """``name``'s load, from one videoroom ``list`` (with the admin key, so that private
        rooms are counted): participants in all its rooms, then its number of rooms."""
        data = await self._admin_request(name, {"request": "list", **self._key()})
        rooms = data.get("list") or []
        participants = sum(int(room.get("num_participants", 0)) for room in rooms)
        return Load(participants=participants, rooms=len(rooms))

    async def place(self) -> str:
        """The name of the least loaded instance that is up (ties: configuration order).
        ``MediaUnavailable`` when none is configured or none answers."""
        if not self._instances:
            raise MediaUnavailable("no media server is configured: audio and video are off")
        names = [inst.name for inst in self._instances.values() if inst.up]
        loads = await asyncio.gather(*(self.load(n) for n in names), return_exceptions=True)
        measured = []
        for order, (name, load) in enumerate(zip(names, loads, strict=True)):
            if isinstance(load, Load):
                measured.append((load, order, name))
            elif isinstance(load, JanusError | MediaUnavailable):
                # down meanwhile, or refusing the admin key: the others may still serve
                log.warning("media.load_failed", instance=name, error=str(load))
            else:
                raise load
        if not measured:
            raise MediaUnavailable("no media server is available right now")
        return min(measured)[2]

    async def attach(self, name: str) -> Handle:
        """A new videoroom handle on ``name``'s session (for a participant's publisher or
        subscriber connection). It dies with the session: watch ``instance(name).lost``."""
        inst = self.instance(name)
        client = inst.client
        if client is None or not inst.up:
            raise MediaUnavailable(f"media server {name!r} is unavailable")
        try:
            return await client.attach(VIDEOROOM, timeout=self._request_timeout)
        except (JanusConnectionError, JanusTimeout) as exc:
            raise MediaUnavailable(f"media server {name!r} is unavailable") from exc

    # -- rooms ---------------------------------------------------------------------------

    async def create_room(
        self,
        name: str,
        *,
        room: int,
        secret: str,
        description: str,
        recordings_dir: str | None,
        publishers: int = MAX_PUBLISHERS,
    ) -> None:
        """Create videoroom ``room`` on ``name``: private (not listed without the admin key),
        not permanent, Opus + VP8, ``secret`` needed to administer it, subscriptions tied to
        a participant in the room (``require_pvtid``), recording only with the secret
        (``lock_record``), recording off. ``recordings_dir`` is where recordings will go
        (Janus' ``rec_dir``). Raises ``JanusError`` 427 if the room exists."""
        body: JSON = {
            "request": "create",
            **self._key(),
            "room": room,
            "permanent": False,
            "description": description,
            "secret": secret,
            "is_private": True,
            "require_pvtid": True,
            "lock_record": True,
            "record": False,
            "publishers": publishers,
            "audiocodec": "opus",
            "videocodec": "vp8",
        }
        if recordings_dir is not None:
            body["rec_dir"] = recordings_dir
        await self._admin_request(name, body)

    async def destroy_room(self, name: str, *, room: int, secret: str) -> bool:
        """Destroy ``room`` (Janus kicks everyone in it). False if it did not exist."""
        try:
            await self._admin_request(name, {"request": "destroy", "room": room, "secret": secret})
        except JanusError as exc:
            if exc.code == NO_SUCH_ROOM:
                return False
            raise
        return True

    async def room_exists(self, name: str, room: int) -> bool:
        """Whether ``room`` exists on ``name`` (false after a Janus restart)."""
        data = await self._admin_request(name, {"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def participants(self, name: str, room: int) -> list[JSON]:
        """Janus' ``listparticipants`` for ``room``: ``id``, ``display``, ``publisher``."""
        data = await self._admin_request(name, {"request": "listparticipants", "room": room})
        participants: list[JSON] = data.get("participants") or []
        return participants

    async def kick(self, name: str, room: int, secret: str, participant_janus_id: int) -> bool:
        """Remove a participant from ``room``: its publisher connection is closed and, with
        ``require_pvtid``, its subscriptions stop too. Its handle cannot rejoin (the caller
        should detach it). False if the participant (or room) was not there."""
        body = {"request": "kick", "room": room, "secret": secret, "id": participant_janus_id}
        try:
            await self._admin_request(name, body)
        except JanusError as exc:
            if exc.code in (NO_SUCH_ROOM, NO_SUCH_FEED):
                return False
            raise
        return True

    async def moderate(
        self,
        name: str,
        room: int,
        secret: str,
        participant_janus_id: int,
        *,
        mid: str,
        mute: bool = True,
    ) -> None:
        """Mute (or lift the mute of) one stream, by its ``mid``, of a publisher in ``room``.
        Lifting it does not unmute a participant who muted themselves."""
        body = {
            "request": "moderate",
            "room": room,
            "secret": secret,
            "id": participant_janus_id,
            "mid": mid,
            "mute": mute,
        }
        await self._admin_request(name, body)

    # -- internals -----------------------------------------------------------------------

    def _key(self) -> JSON:
        return {"admin_key": self._admin_key} if self._admin_key is not None else {}

    async def _admin_request(self, name: str, body: JSON) -> JSON:
        inst = self.instance(name)
        admin = inst.admin
        if admin is None or not inst.up:
            raise MediaUnavailable(f"media server {name!r} is unavailable")
        try:
            data, _ = await admin.request(body, timeout=self._request_timeout)
        except (JanusConnectionError, JanusTimeout) as exc:
            raise MediaUnavailable(f"media server {name!r} is unavailable") from exc
        return data

    async def _supervise(self, inst: MediaInstance) -> None:
        """Connect, wait for the connection to die, reconnect with backoff; forever."""
        delay = self._retry_initial
        while True:
            try:
                client = await JanusClient.connect(
                    inst.url, api_secret=self._api_secret, timeout=self._connect_timeout
                )
                try:
                    admin = await client.attach(VIDEOROOM, timeout=self._connect_timeout)
                except BaseException:
                    await client.close()
                    raise
            except JanusError as exc:
                self._went_down(inst, str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            except Exception as exc:
                # a bug must not end supervision: the instance would never come back
                log.exception("media.supervisor_error", instance=inst.name)
                self._went_down(inst, repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_initial
            inst.client, inst.admin, inst.last_error = client, admin, None
            inst.generation += 1
            inst.lost.clear()
            inst.connected.set()
            inst._attempted.set()
            log.info("media.up", instance=inst.name, url=inst.url, generation=inst.generation)
            self._notify(inst)
            try:
                await client.lost.wait()
            finally:
                # also on stop(): this task owns the client
                inst.client = inst.admin = None
                inst.connected.clear()
                await client.close()
            self._went_down(inst, "connection lost")

    def _went_down(self, inst: MediaInstance, reason: str) -> None:
        was_up = inst.generation > 0 and not inst.lost.is_set()
        repeated = reason == inst.last_error
        inst.last_error = reason
        inst._attempted.set()
        if was_up:
            inst.lost.set()
            log.warning("media.down", instance=inst.name, url=inst.url, reason=reason)
            self._notify(inst)
        elif not repeated:  # every retry failing the same way is one line, not one a minute
            log.warning("media.unreachable", instance=inst.name, url=inst.url, reason=reason)

    def _notify(self, inst: MediaInstance) -> None:
        for listener in list(self._listeners):
            try:
                listener(inst)
            except Exception:
                log.exception("media.listener_error", instance=inst.name)
