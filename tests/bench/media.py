"""Benchmark 8: a meeting's audio and video through Overleg and a private Janus.

``python -m tests.bench.media [--quick] [--joiners K] [--window S]`` runs it alone;
``python -m tests.bench`` runs it with the others (always on SQLite: the database is not
what this measures).

Three processes are measured apart: a private **Janus** (``tests.fixtures.janus.
JanusInstance``, config made by Overleg), the **Overleg server** (``overleg serve`` in a
child process: the production app, uvicorn and log setup, with ``OVERLEG_*`` settings
pointing at that Janus), and **this process**, which holds the aiortc peers (160x120
video at 10 fps and silent Opus, ``tests.fixtures.peers``), the HTTP client and the
baseline's direct Janus connection. CPU time is read from ``/proc/<pid>/stat`` (user +
system, all threads) of Janus and of the server, and from ``time.process_time()`` here.
The organisation is the test cast (``tests.fixtures.world.build_world``); the organizer
(olivia) creates each meeting with ``lobby_bypass: "everyone"`` and joins first; everyone
else joins anonymously through ``POST /api/v1/meetings/join/{code}``, straight in.

1. **Idle**: Janus and Overleg with nothing to do, over :data:`IDLE_SECONDS` (their floor).
2. **Steady state** (subject: Overleg's CPU; baseline: Janus' CPU in the same window):
   for each configuration
   (1 publisher + 4 subscribers; 2 publishers + 4 subscribers) a fresh meeting; the
   publishers publish camera and microphone through ``POST .../media/publish``; everyone
   subscribes to every feed but their own through ``POST .../media/subscriptions`` and
   ``.../answer`` (one connection per feed: aiortc loses the video of all but the first
   feed of a multi-feed subscription). After every connection has received audio and
   video and a warm-up, one window of CPU time: **Janus CPU and Overleg CPU per
   forwarded stream** (ms of CPU per second, per stream; a stream is one kind of one feed
   to one subscriber) and their ratio. Frames received in the window are counted: every
   connection must receive audio and video in it, or the run stops.
3. **Join to first frame** (subject): a new anonymous person, from the moment its
   ``POST /join`` starts, through ``GET .../media/feeds``, ``POST .../media/subscriptions``
   (Overleg attaches the person's seat and subscriber handles at Janus), the local answer
   and ``POST .../answer``, until the first decoded video frame of the meeting's
   publisher. **Baseline**, interleaved one for one (A B, B A, ...): the same at Janus
   without Overleg in between, through ``overleg.meetings.media.plane.MediaPlane`` in this
   process: attach and join a publisher-type seat (for its private id), attach and join
   a subscriber, answer, ``start``, first frame, in a room of its own with a publisher of
   its own. Each joiner leaves afterwards (``POST .../leave``; the baseline detaches its
   handles), so every join meets the same room; joins into one room are at least
   :data:`SAME_ROOM_SECONDS` apart, because Janus asks a publisher for a keyframe at most
   once a second and a first frame needs one. Reported: p50/p95 of both, their ratio,
   the median of each step, the signalling part alone (start to the answer at Janus:
   ICE, DTLS and the first keyframe that follow are between the peer and Janus), and the
   Overleg server's CPU per join (join to first frame).

There are no assertions on time anywhere: a failure (no frames, a refused request) stops
the run; the numbers are printed, and recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from overleg.kernel.clock import now
from overleg.meetings.media.janus import Handle, JanusError
from overleg.meetings.media.plane import MediaPlane
from tests.bench import machine
from tests.bench.backend import Backend, make_runtime, prepare_sqlite
from tests.bench.search import Latency
from tests.fixtures.janus import JanusInstance, info
from tests.fixtures.peers import BOUND, Counter, SmallVideo, new_pc, until
from tests.fixtures.world import build_world

#: the configurations of the steady state: (publishers, people who only watch)
CONFIGURATIONS = ((1, 4), (2, 4))
JOINERS = 20
WINDOW_SECONDS = 20.0
WARMUP_SECONDS = 3.0
IDLE_SECONDS = 10.0
#: ``--quick``: a smoke run (too short for numbers worth quoting)
QUICK: dict[str, Any] = {"joiners": 5, "window": 4.0, "warmup": 1.0, "idle_seconds": 2.0}
#: a bound on the server's start (not a measured duration)
SERVER_READY_SECONDS = 60.0
SERVER_STOP_SECONDS = 15.0
#: between two measured joins into the same room. Janus asks a publisher for a keyframe
#: (PLI) at most once a second and a new subscriber's first frame waits for one: joins
#: closer than that would measure the throttle, not the joining
SAME_ROOM_SECONDS = 1.5
#: joins slower than this are counted apart, with the step that took longest
SLOW_SECONDS = 0.5
#: at least between any two measured joins (the one before has left at Janus)
BETWEEN_JOINS_SECONDS = 0.2
_TICKS = os.sysconf("SC_CLK_TCK")


class Unavailable(RuntimeError):
    """Janus (or a non-loopback address for its ICE) is not available on this machine."""


# -- CPU time ------------------------------------------------------------------------------


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system, every thread) ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # the command name (field 2) may contain spaces: count the fields after its ")"
    rest = stat.rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / _TICKS  # fields 14 (utime) and 15 (stime)


@dataclass(frozen=True)
class Clock:
    """Wall time and the CPU time of Janus, the Overleg server and this process."""

    wall: float
    janus: float
    overleg: float
    peers: float


@dataclass(frozen=True)
class Usage:
    """What each process used between two clocks."""

    seconds: float
    janus: float
    overleg: float
    peers: float

    def ms_per_second(self, cpu: float) -> float:
        return cpu * 1000 / self.seconds


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Steady:
    """One configuration's steady state."""

    publishers: int
    watchers: int
    #: subscriber connections (one per feed a person receives)
    connections: int
    #: forwarded streams: one kind (audio or video) of one feed to one subscriber
    streams: int
    window: Usage
    #: the signalling that set it up (joins, publishes, subscriptions), first join to
    #: last answer
    setup: Usage
    video_frames: int
    audio_frames: int

    @property
    def janus_per_stream(self) -> float:
        """Janus CPU, ms per second per forwarded stream."""
        return self.window.ms_per_second(self.window.janus) / self.streams

    @property
    def overleg_per_stream(self) -> float:
        """Overleg CPU, ms per second per forwarded stream."""
        return self.window.ms_per_second(self.window.overleg) / self.streams

    @property
    def ratio(self) -> float:
        """Overleg's CPU over Janus' in the window (far below 1: Overleg only signals)."""
        return self.window.overleg / self.window.janus if self.window.janus else float("nan")

    @property
    def video_fps(self) -> float:
        """Video frames decoded per second per video stream (the source sends 10)."""
        return self.video_frames / self.window.seconds / (self.streams // 2)

    @property
    def audio_fps(self) -> float:
        """Audio frames decoded per second per audio stream (Opus at 20 ms: 50)."""
        return self.audio_frames / self.window.seconds / (self.streams // 2)


@dataclass
class Joins:
    """Join-to-first-frame times (seconds) and their steps, one entry per joiner."""

    total: list[float] = field(default_factory=list)
    #: from the start to the answer delivered to Janus: the part signalling decides (the
    #: rest, ICE, DTLS and the first frame, is between the peer and Janus)
    signalling: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    #: the Overleg server's CPU seconds per join (subject only)
    overleg_cpu: list[float] = field(default_factory=list)

    def add(self, marks: list[tuple[str, float]], overleg_cpu: float | None = None) -> None:
        """``marks``: ("start", t0) then (step name, time it ended) in order, one of them
        "answer"."""
        self.total.append(marks[-1][1] - marks[0][1])
        self.signalling.append(dict(marks)["answer"] - marks[0][1])
        for (_, before), (name, at) in itertools.pairwise(marks):
            self.steps.setdefault(name, []).append(at - before)
        if overleg_cpu is not None:
            self.overleg_cpu.append(overleg_cpu)

    def latency(self) -> Latency:
        return Latency.of(self.total)

    def signalling_latency(self) -> Latency:
        return Latency.of(self.signalling)

    def step_ms(self) -> dict[str, float]:
        return {k: statistics.median(v) * 1000 for k, v in self.steps.items()}

    def slow(self, seconds: float) -> dict[str, int]:
        """For the joins over ``seconds``: their longest step -> how many of them."""
        out: dict[str, int] = {}
        for i, total in enumerate(self.total):
            if total > seconds:
                step = max(self.steps, key=lambda k: self.steps[k][i])
                out[step] = out.get(step, 0) + 1
        return out


@dataclass
class MediaResult:
    """Everything benchmark 8 measured (see the module's docstring)."""

    janus_version: str
    libraries: str
    idle: Usage
    steady: list[Steady]
    overleg: Joins
    direct: Joins
    load_start: str
    load_end: str

    @property
    def join_ratio(self) -> float:
        """p50 join-to-first-frame through Overleg over the same straight at Janus."""
        return self.overleg.latency().p50_ms / self.direct.latency().p50_ms

    @property
    def join_ratio_p95(self) -> float:
        return self.overleg.latency().p95_ms / self.direct.latency().p95_ms

    @property
    def signalling_ratio(self) -> float:
        """p50 of the signalling part (start to answer at Janus), Overleg over straight."""
        return self.overleg.signalling_latency().p50_ms / self.direct.signalling_latency().p50_ms

    @property
    def overleg_cpu_per_join_ms(self) -> float:
        return statistics.median(self.overleg.overleg_cpu) * 1000


# -- the Overleg server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """``overleg serve`` in a child process, so that its CPU time can be read alone."""

    directory: Path
    env: dict[str, str]
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "overleg.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def spawn(self) -> None:
        """Start the child process (blocking: call it in a thread)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OVERLEG_")}
        env.update(self.env, OVERLEG_HOST="127.0.0.1", OVERLEG_PORT=str(self.port))
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from overleg.cli.app import main; main()", "serve"],
                cwd=self.directory,  # no overleg.toml of a developer's working directory
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def start(self) -> None:
        """Spawn the server and wait until it answers ``/healthz``."""
        await asyncio.to_thread(self.spawn)
        assert self.process is not None
        deadline = time.monotonic() + SERVER_READY_SECONDS
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                if self.process.poll() is not None or time.monotonic() > deadline:
                    code = self.process.poll()
                    self.stop()
                    raise RuntimeError(
                        f"overleg serve {'exited with ' + str(code) if code is not None else ''}"
                        f" did not answer on {self.url}; log tail:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down, the lifespan closes the media plane), then SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# -- peers ---------------------------------------------------------------------------------


@dataclass
class FirstFrame:
    """When a subscriber connection's ICE completed, when it was connected (DTLS done),
    and when its first video frame was decoded."""

    ice_at: float | None = None
    connected_at: float | None = None
    at: float | None = None
    got: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def watch(self, pc: RTCPeerConnection) -> None:
        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._read(track)))

        @pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            if pc.iceConnectionState == "completed" and self.ice_at is None:
                self.ice_at = time.perf_counter()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.perf_counter()

    def marks(self, since: float) -> list[tuple[str, float]]:
        """The steps after ``since`` (the answer was sent): ICE, DTLS, first frame. A step
        that ended before ``since`` (the peer may connect while the answer is on its way)
        counts as ending with it."""
        assert self.at is not None
        out, last = [], since
        for name, at in (("ice", self.ice_at), ("dtls", self.connected_at)):
            last = max(last, at if at is not None else last)
            out.append((name, last))
        out.append(("first frame", max(last, self.at)))
        return out

    async def _read(self, track: MediaStreamTrack) -> None:
        # every track is read, as a client plays it, until the connection closes
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video" and self.at is None:
                    self.at = time.perf_counter()
                    self.got.set()

    async def wait(self) -> float:
        async with asyncio.timeout(BOUND):
            await self.got.wait()
        assert self.at is not None
        return self.at

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def publisher_pc() -> RTCPeerConnection:
    pc = new_pc()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(SmallVideo())
    return pc


async def answer_offer(sdp: str, watcher: Counter | FirstFrame) -> RTCPeerConnection:
    """A receiving connection for Janus' ``sdp`` offer, its answer set locally."""
    pc = new_pc()
    watcher.watch(pc)
    await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())  # gathers fully: no trickle
    return pc


async def next_event(handle: Handle, match: Callable[[dict[str, Any]], bool]) -> None:
    """Wait for the first event on ``handle`` for which ``match`` holds."""
    async with asyncio.timeout(BOUND):
        while not match(await handle.events.get()):
            pass


# -- the run's world -----------------------------------------------------------------------


def _checked(r: httpx.Response, status: int, what: str) -> Any:
    if r.status_code != status:
        raise RuntimeError(f"{what}: {r.status_code} {r.text[:500]}")
    return r.json() if r.content else None


@dataclass
class Person:
    participant_id: str
    headers: dict[str, str]


@dataclass
class Meeting:
    id: str
    code: str

    @property
    def path(self) -> str:
        return f"/api/v1/meetings/{self.id}"


@dataclass
class Bench:
    """The running Janus and server, an HTTP client, and the organizer's session."""

    janus: JanusInstance
    server: Server
    http: httpx.AsyncClient
    organizer: dict[str, str]
    counter: int = 0

    def clock(self) -> Clock:
        assert self.janus.process is not None
        return Clock(
            time.perf_counter(),
            cpu_of(self.janus.process.pid),
            cpu_of(self.server.pid),
            time.process_time(),
        )

    @staticmethod
    def used(a: Clock, b: Clock) -> Usage:
        return Usage(b.wall - a.wall, b.janus - a.janus, b.overleg - a.overleg, b.peers - a.peers)

    async def meeting(self, subject: str) -> Meeting:
        """A meeting everyone enters straight (the organizer is in: it has started)."""
        start = now() + timedelta(minutes=5)
        r = await self.http.post(
            "/api/v1/meetings",
            headers=self.organizer,
            json={
                "subject": subject,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
                "options": {"lobby_bypass": "everyone"},
            },
        )
        m = _checked(r, 201, "create a meeting")
        return Meeting(m["id"], m["join_url"].rsplit("/", 1)[-1])

    async def join(self, m: Meeting, *, organizer: bool = False) -> Person:
        if organizer:
            r = await self.http.post(
                f"/api/v1/meetings/join/{m.code}", json={}, headers=self.organizer
            )
        else:
            self.counter += 1
            body = {"display_name": f"Viewer {self.counter}"}
            r = await self.http.post(f"/api/v1/meetings/join/{m.code}", json=body)
        joined = _checked(r, 200, "join")
        if joined["me"]["state"] != "in":
            raise RuntimeError(f"a joiner did not get in: {joined['me']['state']}")
        headers = self.organizer if organizer else {"Authorization": f"Bearer {joined['token']}"}
        return Person(joined["me"]["id"], headers)

    async def publish(self, m: Meeting, p: Person) -> RTCPeerConnection:
        pc = publisher_pc()
        await pc.setLocalDescription(await pc.createOffer())  # gathers fully: no trickle
        r = await self.http.post(
            f"{m.path}/media/publish",
            json={"sdp": pc.localDescription.sdp, "audio": True, "video": True},
            headers=p.headers,
        )
        answer = _checked(r, 200, "publish")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return pc

    async def feeds(self, m: Meeting, p: Person) -> set[str]:
        """Participant ids whose camera feed is published."""
        r = await self.http.get(f"{m.path}/media/feeds", headers=p.headers)
        listed = _checked(r, 200, "feeds")
        return {f["participant_id"] for f in listed if f["kind"] == "camera"}

    async def wait_feeds(self, m: Meeting, p: Person, ids: set[str]) -> None:
        """Until Janus lists every one of ``ids`` (a feed is listed once it is up)."""
        deadline = time.monotonic() + BOUND
        while not ids <= await self.feeds(m, p):
            if time.monotonic() > deadline:
                raise RuntimeError(f"feeds not published within {BOUND} s")
            await asyncio.sleep(0.05)

    async def offer(self, m: Meeting, p: Person, ids: list[str]) -> tuple[str, str]:
        """(subscription id, Janus' SDP offer) for the camera feeds of ``ids``."""
        body = {"feeds": [{"participant_id": i} for i in ids]}
        r = await self.http.post(f"{m.path}/media/subscriptions", json=body, headers=p.headers)
        offer = _checked(r, 201, "subscribe")
        return offer["subscription_id"], offer["sdp"]

    async def answer(self, m: Meeting, p: Person, sid: str, pc: RTCPeerConnection) -> None:
        r = await self.http.post(
            f"{m.path}/media/subscriptions/{sid}/answer",
            json={"sdp": pc.localDescription.sdp},
            headers=p.headers,
        )
        _checked(r, 204, "answer")

    async def leave(self, m: Meeting, p: Person) -> None:
        _checked(await self.http.post(f"{m.path}/leave", headers=p.headers), 204, "leave")

    async def end(self, m: Meeting) -> None:
        _checked(await self.http.post(f"{m.path}/end", headers=self.organizer), 204, "end")


# -- 1. idle, 2. steady state ----------------------------------------------------------------


async def idle(b: Bench, seconds: float) -> Usage:
    start = b.clock()
    await asyncio.sleep(seconds)
    return b.used(start, b.clock())


async def steady(
    b: Bench, publishers: int, watchers: int, *, warmup: float, window: float
) -> Steady:
    """One meeting of ``publishers`` + ``watchers``; everyone receives every other feed."""
    m = await b.meeting(f"Steady state, {publishers} + {watchers}")
    pcs: list[RTCPeerConnection] = []
    counters: list[Counter] = []
    try:
        before_setup = b.clock()
        people = [await b.join(m, organizer=True)]
        people += [await b.join(m) for _ in range(publishers + watchers - 1)]
        senders = people[:publishers]
        for p in senders:
            pcs.append(await b.publish(m, p))
        await b.wait_feeds(m, people[0], {p.participant_id for p in senders})
        for p in people:
            for sender in senders:
                if sender is p:
                    continue
                # one connection per feed: aiortc (1.16) routes no packets to the last
                # video section of a subscription carrying several feeds (seen straight at
                # Janus too), so a multi-feed subscription would lose video here
                sid, sdp = await b.offer(m, p, [sender.participant_id])
                counter = Counter()
                counters.append(counter)
                pc = await answer_offer(sdp, counter)
                pcs.append(pc)
                await b.answer(m, p, sid, pc)
        setup = b.used(before_setup, b.clock())
        await until(
            lambda: all(c.frames["video"] > 0 and c.frames["audio"] > 0 for c in counters),
            "every subscriber connection receives audio and video",
        )
        await asyncio.sleep(warmup)
        first = [c.snapshot() for c in counters]
        start = b.clock()
        await asyncio.sleep(window)
        end = b.clock()
        last = [c.snapshot() for c in counters]
        for a, z in zip(first, last, strict=True):
            if z["video"] <= a["video"] or z["audio"] <= a["audio"]:
                raise RuntimeError(f"a subscriber stopped receiving in the window: {a} -> {z}")
        return Steady(
            publishers=publishers,
            watchers=watchers,
            connections=len(counters),
            streams=2 * len(counters),
            window=b.used(start, end),
            setup=setup,
            video_frames=sum(z["video"] - a["video"] for a, z in zip(first, last, strict=True)),
            audio_frames=sum(z["audio"] - a["audio"] for a, z in zip(first, last, strict=True)),
        )
    finally:
        for c in counters:
            await c.stop()
        for pc in pcs:
            await pc.close()
        await b.end(m)


# -- 3. join to first frame ------------------------------------------------------------------


@dataclass
class DirectRoom:
    """A room made straight at Janus through the media plane (the baseline's)."""

    plane: MediaPlane
    name: str
    room: int
    secret: str
    feed: int = 0
    handles: list[Handle] = field(default_factory=list)

    async def attach_join(self, **body: Any) -> tuple[Handle, dict[str, Any], Any]:
        handle = await self.plane.attach(self.name)
        self.handles.append(handle)
        data, jsep = await handle.request({"request": "join", "room": self.room, **body})
        return handle, data, jsep

    async def detach(self, handle: Handle) -> None:
        self.handles.remove(handle)
        with contextlib.suppress(JanusError):
            await handle.detach()


async def join_through_overleg(b: Bench, m: Meeting, publisher: str, into: Joins) -> None:
    """One anonymous person: join, find the feed, subscribe, answer, first video frame."""
    watcher = FirstFrame()
    pc: RTCPeerConnection | None = None
    cpu = cpu_of(b.server.pid)
    marks = [("start", time.perf_counter())]
    person = await b.join(m)
    marks.append(("join", time.perf_counter()))
    if publisher not in await b.feeds(m, person):
        raise RuntimeError("the publisher's feed is not listed")
    marks.append(("feeds", time.perf_counter()))
    try:
        sid, sdp = await b.offer(m, person, [publisher])
        marks.append(("subscribe", time.perf_counter()))
        pc = await answer_offer(sdp, watcher)
        await b.answer(m, person, sid, pc)
        marks.append(("answer", time.perf_counter()))
        await watcher.wait()
        into.add(marks + watcher.marks(marks[-1][1]), cpu_of(b.server.pid) - cpu)
    finally:
        await watcher.stop()
        if pc is not None:
            await pc.close()
        await b.leave(m, person)


async def join_at_janus(d: DirectRoom, i: int, into: Joins) -> None:
    """The same at Janus: a seat (for the private id), a subscriber, answer, first frame."""
    watcher = FirstFrame()
    pc: RTCPeerConnection | None = None
    handles: list[Handle] = []
    marks = [("start", time.perf_counter())]
    try:
        seat, joined, _ = await d.attach_join(ptype="publisher", display=f"direct-{i}")
        handles.append(seat)
        marks.append(("seat", time.perf_counter()))
        sub, _, offer = await d.attach_join(
            ptype="subscriber", streams=[{"feed": d.feed}], private_id=joined["private_id"]
        )
        handles.append(sub)
        if offer is None or offer.get("type") != "offer":
            raise RuntimeError("Janus made no offer")
        marks.append(("subscribe", time.perf_counter()))
        pc = await answer_offer(offer["sdp"], watcher)
        await sub.request({"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp})
        marks.append(("answer", time.perf_counter()))
        await watcher.wait()
        into.add(marks + watcher.marks(marks[-1][1]))
    finally:
        await watcher.stop()
        if pc is not None:
            await pc.close()
        for h in reversed(handles):
            await d.detach(h)


@contextlib.asynccontextmanager
async def direct_room(janus: JanusInstance) -> AsyncIterator[tuple[DirectRoom, RTCPeerConnection]]:
    """A room straight at Janus with one publisher sending (up at Janus: ``webrtcup``)."""
    plane = MediaPlane([janus.server], api_secret=janus.api_secret, admin_key=janus.admin_key)
    await plane.start()
    if not plane.available:
        raise RuntimeError("the media plane could not reach Janus")
    d = DirectRoom(plane, janus.name, secrets.randbelow(2**40) + 1, secrets.token_urlsafe(16))
    pc = publisher_pc()
    try:
        await plane.create_room(
            d.name, room=d.room, secret=d.secret, description="bench", recordings_dir=None
        )
        handle, joined, _ = await d.attach_join(ptype="publisher", display="direct publisher")
        d.feed = int(joined["id"])
        await pc.setLocalDescription(await pc.createOffer())
        _, answer = await handle.request(
            {"request": "publish", "audio": True, "video": True},
            {"type": "offer", "sdp": pc.localDescription.sdp},
        )
        if answer is None:
            raise RuntimeError("Janus gave no answer to the publisher")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await next_event(handle, lambda e: e.get("janus") == "webrtcup")
        yield d, pc
    finally:
        await pc.close()
        for h in list(d.handles):
            await d.detach(h)
        with contextlib.suppress(JanusError):
            await plane.destroy_room(d.name, room=d.room, secret=d.secret)
        await plane.stop()


async def joins(b: Bench, joiners: int) -> tuple[Joins, Joins]:
    """``joiners`` joins through Overleg and as many straight at Janus, interleaved."""
    m = await b.meeting("Join to first frame")
    organizer = await b.join(m, organizer=True)
    publisher = await b.publish(m, organizer)
    subject, baseline = Joins(), Joins()
    try:
        await b.wait_feeds(m, organizer, {organizer.participant_id})
        async with direct_room(b.janus) as (d, _):
            # warm-up, not counted: connections, caches, the first handles at Janus
            await join_through_overleg(b, m, organizer.participant_id, Joins())
            await join_at_janus(d, -1, Joins())
            last = {"overleg": time.perf_counter(), "janus": time.perf_counter()}
            for i in range(joiners):
                for which in ("overleg", "janus") if i % 2 == 0 else ("janus", "overleg"):
                    wait = last[which] + SAME_ROOM_SECONDS - time.perf_counter()
                    # plus up to one frame interval: the publishers send every 100 ms, and
                    # a fixed spacing would meet them at the same phase every time
                    jitter = secrets.randbelow(100) / 1000
                    await asyncio.sleep(max(wait, BETWEEN_JOINS_SECONDS) + jitter)
                    last[which] = time.perf_counter()
                    if which == "overleg":
                        await join_through_overleg(b, m, organizer.participant_id, subject)
                    else:
                        await join_at_janus(d, i, baseline)
    finally:
        await publisher.close()
        await b.end(m)
    return subject, baseline


# -- the run ---------------------------------------------------------------------------------


def _libraries() -> str:
    def v(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    return f"aiortc {v('aiortc')}, aioice {v('aioice')}, av {v('av')}, uvicorn {v('uvicorn')}"


def _janus_available() -> None:
    if shutil.which("janus") is None:
        raise Unavailable("janus is not installed (apt-get install janus janus-tools)")
    try:
        from overleg.meetings.media.config import primary_address

        primary_address()
    except OSError as exc:
        raise Unavailable(f"no non-loopback IPv4 address for Janus' ICE: {exc}") from None


def _prepare(directory: Path) -> Backend:
    directory.mkdir(parents=True, exist_ok=True)
    return prepare_sqlite(directory)


def _start_janus(directory: Path) -> JanusInstance:
    directory.mkdir(mode=0o700)
    janus = JanusInstance(name="bench", directory=directory)
    janus.start()
    return janus


async def run(
    directory: Path,
    *,
    joiners: int = JOINERS,
    window: float = WINDOW_SECONDS,
    warmup: float = WARMUP_SECONDS,
    idle_seconds: float = IDLE_SECONDS,
    configurations: tuple[tuple[int, int], ...] = CONFIGURATIONS,
) -> MediaResult:
    """Run the whole benchmark in ``directory`` (created; Janus, database, server log).
    Raises ``Unavailable`` without Janus, RuntimeError when something does not work."""
    if joiners < 2:
        raise ValueError("joiners: at least 2 (p95 needs two)")
    _janus_available()
    load_start = machine.load()
    # Alembic runs its own event loop: in a thread of its own, not in ours
    backend = await asyncio.to_thread(_prepare, directory)
    data_dir = directory / "data"
    rt = make_runtime(backend, data_dir)
    try:
        world = await build_world(rt)
        organizer = await world.session_headers("olivia")
        master_key = rt.settings.master_key
        assert master_key is not None
    finally:
        await rt.database.dispose()

    janus = await asyncio.to_thread(_start_janus, directory / "janus")
    try:
        version = str(info(janus.url, janus.api_secret).get("version_string", "?"))
        # the server is configured with the ports Janus got when it started
        server = Server(
            directory,
            {
                "OVERLEG_DATA_DIR": str(data_dir),
                "OVERLEG_DATABASE_URL": backend.url,
                "OVERLEG_MASTER_KEY": master_key.get_secret_value(),
                "OVERLEG_MEDIA_JANUS": json.dumps([json.loads(janus.server.model_dump_json())]),
                "OVERLEG_MEDIA_API_SECRET": janus.api_secret,
                "OVERLEG_MEDIA_ADMIN_KEY": janus.admin_key,
                "OVERLEG_LOG_LEVEL": "INFO",
            },
        )
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=BOUND) as http:
                b = Bench(janus, server, http, organizer)
                rest = await idle(b, idle_seconds)
                states = [
                    await steady(b, p, w, warmup=warmup, window=window) for p, w in configurations
                ]
                subject, baseline = await joins(b, joiners)
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        await asyncio.to_thread(janus.stop)
    return MediaResult(
        janus_version=version,
        libraries=_libraries(),
        idle=rest,
        steady=states,
        overleg=subject,
        direct=baseline,
        load_start=load_start,
        load_end=machine.load(),
    )


# -- output ----------------------------------------------------------------------------------


def _ms(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _steps(j: Joins) -> str:
    return ", ".join(f"{k} {_ms(v)}" for k, v in j.step_ms().items())


def _slow(j: Joins) -> str:
    slow = j.slow(SLOW_SECONDS)
    if not slow:
        return f"none over {SLOW_SECONDS} s"
    where = ", ".join(f"{n} in {step}" for step, n in sorted(slow.items()))
    return f"{sum(slow.values())} of {len(j.total)} over {SLOW_SECONDS} s (longest step: {where})"


def report(r: MediaResult) -> str:
    idle = r.idle
    lines = [
        f"media benchmark: Janus {r.janus_version}, overleg serve in a child process (SQLite), "
        f"aiortc peers in this process (160x120 at 10 fps + silent Opus); {r.libraries}",
        f"  load average at start {r.load_start}, at end {r.load_end}",
        f"  idle       Janus {idle.ms_per_second(idle.janus):.2f} ms/s, Overleg "
        f"{idle.ms_per_second(idle.overleg):.2f} ms/s of CPU over {idle.seconds:.0f} s "
        f"(CPU clock tick {1000 / _TICKS:.0f} ms)",
    ]
    for s in r.steady:
        w = s.window
        net_janus = (w.ms_per_second(w.janus) - idle.ms_per_second(idle.janus)) / s.streams
        net_overleg = (w.ms_per_second(w.overleg) - idle.ms_per_second(idle.overleg)) / s.streams
        lines += [
            f"  {s.publishers} publisher(s) + {s.watchers} watching: {s.connections} subscriber "
            f"connections, {s.streams} forwarded streams, window {w.seconds:.1f} s",
            f"    CPU ms/s   Janus {w.ms_per_second(w.janus):.2f}, Overleg "
            f"{w.ms_per_second(w.overleg):.2f}, peers (this process) "
            f"{w.ms_per_second(w.peers):.0f}",
            f"    per stream Janus {s.janus_per_stream:.3f} ms/s, Overleg "
            f"{s.overleg_per_stream:.4f} ms/s: ratio Overleg/Janus {s.ratio:.3f}",
            f"    net of idle, per stream: Janus {net_janus:.3f} ms/s, Overleg "
            f"{net_overleg:+.4f} ms/s",
            f"    received   {s.video_fps:.1f} video and {s.audio_fps:.1f} audio frames/s "
            "per stream (sent: 10 and 50)",
            f"    setup      {s.setup.seconds:.1f} s of signalling: Overleg "
            f"{s.setup.overleg * 1000:.0f} ms CPU, Janus {s.setup.janus * 1000:.0f} ms CPU",
        ]
    o, d = r.overleg.latency(), r.direct.latency()
    os_, ds = r.overleg.signalling_latency(), r.direct.signalling_latency()
    lines += [
        f"  join to first video frame, {len(r.overleg.total)} joiners each way, interleaved:",
        f"    through Overleg  p50 {_ms(o.p50_ms)} ms  p95 {_ms(o.p95_ms)} ms  max "
        f"{_ms(o.max_ms)} ms   (median steps: {_steps(r.overleg)})",
        f"    straight Janus   p50 {_ms(d.p50_ms)} ms  p95 {_ms(d.p95_ms)} ms  max "
        f"{_ms(d.max_ms)} ms   (median steps: {_steps(r.direct)})",
        f"    signalling       (start to answer at Janus) through Overleg p50 "
        f"{_ms(os_.p50_ms)} ms, p95 {_ms(os_.p95_ms)} ms; straight p50 {_ms(ds.p50_ms)} ms, "
        f"p95 {_ms(ds.p95_ms)} ms; ratio p50 {r.signalling_ratio:.1f}x",
        f"    slow joins       through Overleg {_slow(r.overleg)}; straight {_slow(r.direct)}",
        f"    ratio            p50 {r.join_ratio:.2f}x, p95 {r.join_ratio_p95:.2f}x; "
        f"Overleg adds {o.p50_ms - d.p50_ms:+.0f} ms (p50); Overleg CPU per join "
        f"{r.overleg_cpu_per_join_ms:.0f} ms (median)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.media", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short windows, 5 joiners")
    p.add_argument("--joiners", type=int, default=None, help=f"default {JOINERS}")
    p.add_argument("--window", type=float, default=None, help=f"default {WINDOW_SECONDS} s")
    args = p.parse_args(argv)
    from tests.bench.__main__ import _quiet_production_logging

    _quiet_production_logging()
    facts = machine.describe()
    with tempfile.TemporaryDirectory(prefix="overleg-bench-media-") as tmp:
        options: dict[str, Any] = dict(QUICK) if args.quick else {}
        if args.joiners is not None:
            options["joiners"] = args.joiners
        if args.window is not None:
            options["window"] = args.window
        try:
            result = asyncio.run(run(Path(tmp) / "media", **options))
        except Unavailable as exc:
            print(f"media benchmark skipped: {exc}")
            return 1
    width = max(len(k) for k, _ in facts)
    print("\n".join(f"  {k.ljust(width)}  {v}" for k, v in facts))
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
