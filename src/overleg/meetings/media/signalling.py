"""Media signalling: Overleg relays WebRTC offers and answers between participants and
Janus, and only what the meeting's rules allow (the SDP exchange is HTTP request and
answer, as in WHIP/WHEP; see ADR 0004).

- Someone in the meeting (state ``in``) gets a *seat* in the meeting's Janus room: a
  publisher-type handle joined as ``<participant id>:camera``. It also yields the private
  id that subscriptions need (the rooms require one), so only people with a seat can
  subscribe. Nobody in the lobby, removed or gone has a seat.
- Publishing: the camera feed carries the kinds the person's role and the options allow
  (attendees' mic and camera rules); an offer that sends a kind not allowed is refused
  before Janus sees it. A screen share is a second publisher (``:screen``) that needs the
  "share content" capability.
- Subscribing: only feeds of the same meeting's room, found at Janus by their display.
- Removal and leaving kick the person's Janus participants (their publications and, with
  ``require_pvtid``, their subscriptions stop at once) and detach their handles; a
  presenter made attendee loses the screen share; a disabled mic or camera is muted at
  Janus (``moderate``); ending the meeting destroys the room.

Handles live in this process (a Janus session belongs to the node that opened it); with
several Overleg nodes, one meeting's media signalling must reach one node (ADR 0004).
Hooks (``left``, ``role_changed``, ``permissions_changed``, ``ended``) never fail the
control-plane change that calls them: the media plane follows the database, and a media
server that is down is told again by nobody (its rooms are gone anyway).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.kernel.clock import now
from overleg.kernel.errors import NotFound, ValidationFailed
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.meetings.access import Room, access_room
from overleg.meetings.events import announce, recipient
from overleg.meetings.media.janus import Handle, JanusError
from overleg.meetings.media.plane import (
    NO_SUCH_ROOM,
    MediaInstance,
    MediaPlane,
    MediaUnavailable,
)
from overleg.meetings.models import Meeting, MeetingMedia, MeetingParticipant
from overleg.meetings.rules import Capability, MeetingRole
from overleg.meetings.schemas import (
    FeedPublic,
    PublishRequest,
    SdpAnswer,
    SdpIn,
    SubscribeRequest,
    SubscriptionOffer,
)
from overleg.security.authz.enforce import not_found_denied, refuse
from overleg.security.principal import Principal, system

log = structlog.get_logger("overleg.media")

ROOM_IDS = 2**52  # Janus room ids: positive integers that JSON carries exactly


@dataclass
class _Feed:
    kind: str  # camera | screen
    handle: Handle
    janus_id: int
    private_id: int
    #: "audio"/"video" -> the mid of that section in the published offer
    mids: dict[str, str] = field(default_factory=dict)
    publishing: bool = False


@dataclass
class _Seat:
    feeds: dict[str, _Feed] = field(default_factory=dict)
    subscriptions: dict[str, Handle] = field(default_factory=dict)

    def handles(self) -> list[Handle]:
        return [f.handle for f in self.feeds.values()] + list(self.subscriptions.values())


@dataclass
class _Room:
    server: str
    room: int
    secret: str
    generation: int
    seats: dict[uuid.UUID, _Seat] = field(default_factory=dict)


@dataclass
class _State:
    """What this process knows of the meetings' media (per media plane)."""

    rooms: dict[uuid.UUID, _Room] = field(default_factory=dict)
    locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)

    def lock(self, meeting_id: uuid.UUID) -> asyncio.Lock:
        return self.locks.setdefault(meeting_id, asyncio.Lock())


_states: weakref.WeakKeyDictionary[MediaPlane, _State] = weakref.WeakKeyDictionary()


def _plane(db: AsyncSession) -> MediaPlane:
    plane = runtime_of(db).media
    if not isinstance(plane, MediaPlane) or not plane.available:
        raise MediaUnavailable(
            "Audio and video are unavailable: no media server is configured or reachable. "
            "The meeting goes on with its lobby, roles and chat."
        )
    return plane


def _state(plane: MediaPlane) -> _State:
    if plane not in _states:
        _states[plane] = _State()
    return _states[plane]


# --- SDP ------------------------------------------------------------------------------------


def media_sections(sdp: str) -> list[tuple[str, str | None, bool]]:
    """(kind, mid, sends) of each media section of an SDP offer. A section sends unless
    its port is 0 or it is ``recvonly``/``inactive``."""
    out: list[tuple[str, str | None, bool]] = []
    kind: str | None = None
    mid: str | None = None
    sends = True
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if kind is not None:
                out.append((kind, mid, sends))
            parts = line[2:].split()
            kind, mid = (parts[0] if parts else ""), None
            sends = len(parts) > 1 and parts[1] != "0"
        elif kind is not None and line.startswith("a=mid:"):
            mid = line[6:]
        elif kind is not None and line in ("a=recvonly", "a=inactive"):
            sends = False
    if kind is not None:
        out.append((kind, mid, sends))
    return out


# --- rooms and seats --------------------------------------------------------------------------


def _aad(tenant_id: uuid.UUID, meeting_id: uuid.UUID) -> bytes:
    return b"overleg:meeting-media:" + tenant_id.bytes + meeting_id.bytes


async def _room(db: AsyncSession, plane: MediaPlane, m: Meeting) -> _Room:
    """The meeting's room, created (on the least loaded instance) when it has none, or
    when its instance lost it (Janus restarted, or the instance is down)."""
    state = _state(plane)
    async with state.lock(m.id):
        known = state.rooms.get(m.id)
        if known is not None:
            inst = plane.instance(known.server)
            if inst.up and inst.generation == known.generation:
                return known
            state.rooms.pop(m.id, None)  # its handles died with the old session
        keys = runtime_of(db).keys
        row = await db.get(MeetingMedia, m.id)
        if row is not None and await _still_there(plane, row):
            aad = _aad(m.tenant_id, m.id)
            secret = (await keys.decrypt(db, m.tenant_id, row.secret_enc, aad)).decode()
            r = _Room(row.server, row.room, secret, plane.instance(row.server).generation)
            state.rooms[m.id] = r
            return r
        server = await plane.place()
        room, secret = secrets.randbelow(ROOM_IDS - 1) + 1, secrets.token_urlsafe(24)
        await plane.create_room(
            server,
            room=room,
            secret=secret,
            description=f"meeting {m.id}",
            recordings_dir=str(_recordings_dir(db, m)),
        )
        sealed = await keys.encrypt(db, m.tenant_id, secret.encode(), _aad(m.tenant_id, m.id))
        if row is None:
            row = MeetingMedia(tenant_id=m.tenant_id, meeting_id=m.id)
            db.add(row)
        row.server, row.room, row.secret_enc, row.created_at = server, room, sealed, now()
        await db.flush()
        r = _Room(server, room, secret, plane.instance(server).generation)
        state.rooms[m.id] = r
        return r


def _recordings_dir(db: AsyncSession, m: Meeting) -> Path:
    """Where Janus writes this meeting's raw recordings (created here, owner only: on a
    single host Janus runs as Overleg's user; on several, the folder is on the Janus
    host and the deployment creates it)."""
    base = runtime_of(db).settings.media_recordings_dir
    assert base is not None
    folder = base.resolve() / str(m.tenant_id) / str(m.id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def raw_name(recording_id: uuid.UUID, participant_id: uuid.UUID, kind: str, at: datetime) -> str:
    """The name a segment of a recorded feed gets at Janus (before its media suffix)."""
    return f"{recording_id}_{participant_id}_{kind}_{int(at.timestamp() * 1000)}"


def may_be_recorded(room: Room, p: MeetingParticipant) -> bool:
    """Whether ``p``'s feeds are recorded now: a recording runs, the organizer did not
    exclude them, and they agreed where consent is required."""
    if room.meeting.recording_started_at is None or p.record_excluded:
        return False
    return not room.consent_required or p.consent == "agreed"


async def _record_feed(r: _Room, m: Meeting, p: MeetingParticipant, feed: _Feed, on: bool) -> None:
    body: dict[str, Any] = {"request": "configure", "record": on, "secret": r.secret}
    if on:
        assert m.recording_id is not None
        # never chosen by a client: Janus writes <rec_dir>/<filename>-<audio|video>-<mid>.mjr;
        # each time a feed starts being recorded is a segment of its own (post-processing
        # reads recording, person, feed and start from the name: recordings.process.RAW)
        body["filename"] = raw_name(m.recording_id, p.id, feed.kind, now())
    await feed.handle.request(body)


async def recording_changed(db: AsyncSession, room: Room) -> None:
    """Record at Janus exactly the feeds that may be recorded now (after a recording
    started or stopped, a consent, an exclusion), for the feeds this node holds."""
    live = _live(db)
    if live is None:
        return
    _, state = live
    r = state.rooms.get(room.meeting.id)
    if r is None:
        return
    ids = list(r.seats)
    people = {
        p.id: p
        for p in await db.scalars(select(MeetingParticipant).where(MeetingParticipant.id.in_(ids)))
    }
    for pid, seat in r.seats.items():
        p = people.get(pid)
        if p is None:
            continue
        on = may_be_recorded(room, p)
        for feed in seat.feeds.values():
            if not feed.publishing:
                continue
            try:
                await _record_feed(r, room.meeting, p, feed, on)
            except JanusError as exc:
                log.warning("media_record_failed", participant=str(pid), error=repr(exc))


async def _still_there(plane: MediaPlane, row: MeetingMedia) -> bool:
    """Whether the stored room is on an instance that is configured, up, and has it."""
    if row.server not in {i.name for i in plane.instances} or not plane.instance(row.server).up:
        return False
    return await plane.room_exists(row.server, row.room)


async def _join(plane: MediaPlane, r: _Room, p: MeetingParticipant, kind: str) -> _Feed:
    handle = await plane.attach(r.server)
    try:
        data, _ = await handle.request(
            {"request": "join", "ptype": "publisher", "room": r.room, "display": f"{p.id}:{kind}"}
        )
    except JanusError:
        await handle.detach()
        raise
    return _Feed(kind, handle, int(data["id"]), int(data["private_id"]))


async def _seat(plane: MediaPlane, r: _Room, p: MeetingParticipant) -> _Seat:
    seat = r.seats.setdefault(p.id, _Seat())
    if "camera" not in seat.feeds:
        seat.feeds["camera"] = await _join(plane, r, p, "camera")
    return seat


def _janus_error(exc: JanusError) -> ValidationFailed:
    return ValidationFailed(f"The media server refused this: {exc.reason or exc.code}.")


def _deny(principal: Principal, action: str, reason: str, meeting_id: uuid.UUID) -> Exception:
    return refuse(principal, action, reason, target_type="meeting", target_id=str(meeting_id))


# --- the use cases ----------------------------------------------------------------------------


def allowed_kinds(room: Room, p: MeetingParticipant) -> set[str]:
    """What ``p`` may send on the camera feed: nothing while a recording waits for their
    consent (or after they declined); attendees only what the options and their own
    permissions allow."""
    if room.held_back(p):
        return set()  # a recording waits for their consent, or they declined
    if p.role != MeetingRole.ATTENDEE:
        return {"audio", "video"}
    kinds = set()
    if room.options.allow_mic_for_attendees and not p.mic_disabled:
        kinds.add("audio")
    if room.options.allow_camera_for_attendees and not p.camera_disabled:
        kinds.add("video")
    return kinds


async def publish(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: PublishRequest
) -> SdpAnswer:
    """Publish the caller's camera (audio/video) or screen: the SDP answer from Janus."""
    action = "media.publish"
    room = await access_room(principal, db, meeting_id, action=action)
    me = room.me
    assert me is not None
    sections = media_sections(data.sdp)
    sending = {k for k, _, sends in sections if sends and k in ("audio", "video")}
    asked = {k for k, on in (("audio", data.audio), ("video", data.video)) if on}
    if sending - asked:
        raise ValidationFailed(
            f"The offer sends {', '.join(sorted(sending - asked))} that the request does not "
            "ask to publish."
        )
    if data.kind == "screen":
        if not room.can(me, Capability.SHARE_CONTENT):
            raise _deny(principal, action, "your role does not share content", meeting_id)
        if (why := room.held_back(me)) is not None:
            raise _deny(principal, action, why, meeting_id)
    else:
        if (why := room.held_back(me)) is not None:
            raise _deny(principal, action, why, meeting_id)
        refused = asked - allowed_kinds(room, me)
        if refused:
            what = " and ".join("mic" if k == "audio" else "camera" for k in sorted(refused))
            raise _deny(principal, action, f"attendees' {what} is disabled here", meeting_id)
    plane = _plane(db)
    r = await _room(db, plane, room.meeting)
    seat = await _seat(plane, r, me)
    feed = seat.feeds.get(data.kind)
    if feed is None:
        feed = seat.feeds[data.kind] = await _join(plane, r, me, data.kind)
    try:
        _, jsep = await feed.handle.request(
            {"request": "publish", "audio": data.audio, "video": data.video},
            jsep={"type": "offer", "sdp": data.sdp},
        )
    except JanusError as exc:
        raise _janus_error(exc) from exc
    if jsep is None or jsep.get("type") != "answer":
        raise ValidationFailed("The media server gave no answer to this offer.")
    feed.publishing = True
    if may_be_recorded(room, me):
        try:
            await _record_feed(r, room.meeting, me, feed, True)
        except JanusError as exc:
            log.warning("media_record_failed", participant=str(me.id), error=repr(exc))
    feed.mids = {k: mid for k, mid, _ in sections if mid is not None and k in ("audio", "video")}
    if data.kind == "camera":
        me.muted = not data.audio or me.muted
        me.camera_on = data.video
    else:
        me.sharing = True
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id), "kind": data.kind, "kinds": sorted(asked)},
    )
    await _tell(db, principal, room, me, "published", data.kind)
    return SdpAnswer(sdp=str(jsep["sdp"]))


async def unpublish(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, kind: str
) -> None:
    """Stop publishing the caller's camera or screen."""
    room = await access_room(principal, db, meeting_id, action="media.unpublish")
    me = room.me
    assert me is not None
    plane = _plane(db)
    r = _state(plane).rooms.get(meeting_id)
    seat = r.seats.get(me.id) if r else None
    feed = seat.feeds.get(kind) if seat else None
    if feed is None or not feed.publishing:
        raise NotFound(f"You publish no {kind} feed here.")
    try:
        await feed.handle.request({"request": "unpublish"})
    except JanusError as exc:
        log.info("unpublish_failed", error=repr(exc))
    feed.publishing = False
    if kind == "screen":
        me.sharing = False
    else:
        me.camera_on, me.muted = False, True
    await record(
        principal,
        db,
        "media.unpublish",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id), "kind": kind},
    )
    await _tell(db, principal, room, me, "unpublished", kind)


async def _published(plane: MediaPlane, r: _Room) -> dict[tuple[uuid.UUID, str], int]:
    """(participant id, kind) -> Janus id of every feed being published in the room."""
    out: dict[tuple[uuid.UUID, str], int] = {}
    for entry in await plane.participants(r.server, r.room):
        pid, _, kind = str(entry.get("display", "")).partition(":")
        if entry.get("publisher") and kind in ("camera", "screen"):
            try:
                out[(uuid.UUID(pid), kind)] = int(entry["id"])
            except (ValueError, KeyError):
                continue
    return out


async def feeds(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> list[FeedPublic]:
    """The feeds being published in the meeting, for people in it."""
    room = await access_room(principal, db, meeting_id, action="media.feeds")
    plane = _plane(db)
    r = await _known_room(db, plane, _state(plane), room.meeting)
    if r is None:
        return []  # nobody has published yet: no room (a read creates none)
    try:
        published = await _published(plane, r)
    except JanusError as exc:
        if exc.code == NO_SUCH_ROOM:
            return []  # the instance restarted; the next publish recreates the room
        raise
    inside = set(
        await db.scalars(
            select(MeetingParticipant.id).where(
                MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.state == "in"
            )
        )
    )
    return [
        FeedPublic(participant_id=pid, kind=kind)
        for pid, kind in sorted(published, key=str)
        if pid in inside
    ]


async def subscribe(
    principal: Principal, db: AsyncSession, meeting_id: uuid.UUID, data: SubscribeRequest
) -> SubscriptionOffer:
    """Receive feeds of the meeting: Janus' SDP offer, to be answered with ``answer``."""
    action = "media.subscribe"
    room = await access_room(principal, db, meeting_id, action=action)
    me = room.me
    assert me is not None
    plane = _plane(db)
    r = await _room(db, plane, room.meeting)
    seat = await _seat(plane, r, me)
    published = await _published(plane, r)
    wanted = []
    for f in data.feeds:
        jid = published.get((f.participant_id, f.kind))
        if jid is None:
            raise not_found_denied(principal, action, "feed", f"{f.participant_id}:{f.kind}")
        wanted.append({"feed": jid})
    handle = await plane.attach(r.server)
    try:
        _, jsep = await handle.request(
            {
                "request": "join",
                "ptype": "subscriber",
                "room": r.room,
                "streams": wanted,
                "private_id": seat.feeds["camera"].private_id,
            }
        )
    except JanusError as exc:
        await handle.detach()
        raise _janus_error(exc) from exc
    if jsep is None or jsep.get("type") != "offer":
        await handle.detach()
        raise ValidationFailed("The media server made no offer for these feeds.")
    sid = secrets.token_urlsafe(12)
    seat.subscriptions[sid] = handle
    await record(
        principal,
        db,
        action,
        target_type="meeting",
        target_id=meeting_id,
        details={
            "participant_id": str(me.id),
            "subscription_id": sid,
            "feeds": [f"{f.participant_id}:{f.kind}" for f in data.feeds],
        },
    )
    return SubscriptionOffer(subscription_id=sid, sdp=str(jsep["sdp"]))


async def answer(
    principal: Principal,
    db: AsyncSession,
    meeting_id: uuid.UUID,
    subscription_id: str,
    data: SdpIn,
) -> None:
    """Complete a subscription with the caller's SDP answer."""
    room = await access_room(principal, db, meeting_id, action="media.answer")
    me = room.me
    assert me is not None
    plane = _plane(db)
    r = _state(plane).rooms.get(meeting_id)
    seat = r.seats.get(me.id) if r else None
    handle = seat.subscriptions.get(subscription_id) if seat else None
    if handle is None:
        raise NotFound(f"No subscription {subscription_id} of yours in this meeting.")
    try:
        await handle.request({"request": "start"}, jsep={"type": "answer", "sdp": data.sdp})
    except JanusError as exc:
        raise _janus_error(exc) from exc
    await record(
        principal,
        db,
        "media.answer",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id), "subscription_id": subscription_id},
    )


async def leave_media(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> None:
    """Stop all of the caller's media in the meeting (publications and subscriptions)."""
    room = await access_room(principal, db, meeting_id, action="media.leave", in_meeting=False)
    me = room.me
    assert me is not None
    await left(db, room.meeting, [me])
    me.sharing, me.camera_on, me.muted = False, False, True
    await record(
        principal,
        db,
        "media.leave",
        target_type="meeting",
        target_id=meeting_id,
        details={"participant_id": str(me.id)},
    )


async def _tell(
    db: AsyncSession,
    principal: Principal,
    room: Room,
    p: MeetingParticipant,
    change: str,
    kind: str,
) -> None:
    inside = await db.scalars(
        select(MeetingParticipant).where(
            MeetingParticipant.meeting_id == room.meeting.id, MeetingParticipant.state == "in"
        )
    )
    await announce(
        db,
        principal,
        "media",
        room.meeting.id,
        [recipient(x) for x in inside],
        change=change,
        participant_id=str(p.id),
        kind=kind,
    )


# --- hooks for the control plane --------------------------------------------------------------


def _live(db: AsyncSession) -> tuple[MediaPlane, _State] | None:
    plane = runtime_of(db).media
    if not isinstance(plane, MediaPlane):
        return None
    return plane, _state(plane)


async def _kick_displays(plane: MediaPlane, r: _Room, displays: set[str]) -> None:
    for entry in await plane.participants(r.server, r.room):
        if str(entry.get("display", "")) in displays:
            await plane.kick(r.server, r.room, r.secret, int(entry["id"]))


async def left(db: AsyncSession, m: Meeting, people: Iterable[MeetingParticipant]) -> None:
    """``people`` are out of the meeting (left, removed, denied): kick them at Janus, so
    that what they send and receive stops at once, and drop their handles."""
    live = _live(db)
    if live is None:
        return
    plane, state = live
    try:
        r = await _known_room(db, plane, state, m)
        if r is None:
            return
        gone = list(people)
        await _kick_displays(
            plane, r, {f"{p.id}:{kind}" for p in gone for kind in ("camera", "screen")}
        )
        for p in gone:
            seat = r.seats.pop(p.id, None)
            for h in seat.handles() if seat else []:
                await h.detach()
    except (MediaUnavailable, JanusError) as exc:
        log.warning("media_kick_failed", meeting=str(m.id), error=repr(exc))


async def role_changed(db: AsyncSession, room: Room, p: MeetingParticipant) -> None:
    """A presenter made attendee stops sharing at once, and is muted at Janus where
    attendees may not use their mic or camera."""
    if p.role != MeetingRole.ATTENDEE:
        return
    await _enforce(db, room, p, screen=True)


async def permissions_changed(db: AsyncSession, room: Room, p: MeetingParticipant) -> None:
    """An attendee's mic or camera was disabled (or the options changed): mute at Janus."""
    await _enforce(db, room, p, screen=False)


async def _enforce(db: AsyncSession, room: Room, p: MeetingParticipant, *, screen: bool) -> None:
    live = _live(db)
    if live is None:
        return
    plane, state = live
    try:
        r = await _known_room(db, plane, state, room.meeting)
        if r is None:
            return
        seat = r.seats.get(p.id)
        if screen and not room.can(p, Capability.SHARE_CONTENT):
            await _kick_displays(plane, r, {f"{p.id}:screen"})
            shared = seat.feeds.pop("screen", None) if seat else None
            if shared is not None:
                await shared.handle.detach()
        camera = seat.feeds.get("camera") if seat else None
        if camera is None or not camera.publishing:
            return
        allowed = allowed_kinds(room, p)
        for kind, mid in camera.mids.items():
            await plane.moderate(
                r.server, r.room, r.secret, camera.janus_id, mid=mid, mute=kind not in allowed
            )
    except (MediaUnavailable, JanusError) as exc:
        log.warning("media_enforce_failed", meeting=str(room.meeting.id), error=repr(exc))


async def ended(db: AsyncSession, m: Meeting) -> None:
    """The meeting ended: destroy its room (everyone in it is kicked)."""
    live = _live(db)
    if live is None:
        return
    plane, state = live
    try:
        r = await _known_room(db, plane, state, m)
        state.rooms.pop(m.id, None)
        if r is None:
            return
        for seat in r.seats.values():
            for h in seat.handles():
                await h.detach()
        await plane.destroy_room(r.server, room=r.room, secret=r.secret)
    except (MediaUnavailable, JanusError) as exc:
        log.warning("media_destroy_failed", meeting=str(m.id), error=repr(exc))


# --- the media server going away and coming back ----------------------------------------

_tasks: set[asyncio.Task[None]] = set()


def watch(rt: Runtime, plane: MediaPlane) -> None:
    """Tell the people in meetings on an instance when it goes down (``available``:
    false) and when it is back (``reset``: publish and subscribe again; the meeting's
    room is recreated on the next call). The control state is in the database and is
    not touched."""

    def changed(inst: MediaInstance) -> None:
        state = _state(plane)
        for mid in [m for m, r in state.rooms.items() if r.server == inst.name]:
            state.rooms.pop(mid, None)  # its handles died with the old session
        if inst.up and inst.generation <= 1:
            return  # the first connection: nothing was lost
        task = asyncio.get_running_loop().create_task(_announce_reset(rt, inst.name, inst.up))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    plane.on_change(changed)


async def _announce_reset(rt: Runtime, server: str, up: bool) -> None:
    try:
        async with rt.database.session(unscoped=True, readonly=True) as db:
            rows = (
                await db.execute(
                    select(MeetingMedia.tenant_id, MeetingMedia.meeting_id)
                    .join(Meeting, Meeting.id == MeetingMedia.meeting_id)
                    .where(MeetingMedia.server == server, Meeting.status == "scheduled")
                )
            ).all()
        for tenant_id, meeting_id in rows:
            async with rt.database.transaction(tenant_id=tenant_id) as db:
                inside = await db.scalars(
                    select(MeetingParticipant).where(
                        MeetingParticipant.meeting_id == meeting_id,
                        MeetingParticipant.state == "in",
                    )
                )
                await announce(
                    db,
                    system(tenant_id, job="media"),
                    "media",
                    meeting_id,
                    [recipient(p) for p in inside],
                    change="reset" if up else "unavailable",
                    available=up,
                )
    except Exception as exc:  # a failed notice must not take the media plane down
        log.warning("media_reset_notice_failed", server=server, error=repr(exc))


async def _known_room(
    db: AsyncSession, plane: MediaPlane, state: _State, m: Meeting
) -> _Room | None:
    """The meeting's room if it has one (never creates it)."""
    r = state.rooms.get(m.id)
    if r is not None:
        return r
    row = await db.get(MeetingMedia, m.id)
    if row is None or row.server not in {i.name for i in plane.instances}:
        return None
    if not plane.instance(row.server).up:
        return None
    secret = await runtime_of(db).keys.decrypt(
        db, m.tenant_id, row.secret_enc, _aad(m.tenant_id, m.id)
    )
    return _Room(row.server, row.room, secret.decode(), plane.instance(row.server).generation)


__all__: list[Any] = [
    "allowed_kinds",
    "answer",
    "ended",
    "feeds",
    "leave_media",
    "left",
    "may_be_recorded",
    "media_sections",
    "permissions_changed",
    "publish",
    "raw_name",
    "recording_changed",
    "role_changed",
    "subscribe",
    "unpublish",
    "watch",
]
