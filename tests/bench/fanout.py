"""Benchmark: one message to 1,000 connected WebSocket clients, against a bare broadcast.

Subject: a real uvicorn server on loopback serving the Overleg app (its gateway), with
``clients`` users of one organisation each holding one event socket (session cookie).
One round commits ONE event addressed to all of them through ``outbox.emit`` in one
transaction, and ends when every client has received it: commit, publication, the
session check of all recipients (one query), fan-out into the per-connection queues and
the writes. Timed from just before the commit.

Baseline: a bare ``websockets`` server (``websockets.asyncio.server``) in the same
process whose handler only keeps its connections; one round is one
``websockets.broadcast`` of the same JSON text to the same number of clients, timed from
just before the broadcast.

The clients (``websockets`` library, defaults, so permessage-deflate on both sides) run
in a child process (``python -m tests.bench.fanout --worker``): one connection per user to
each server, kept open for the whole run. Each message carries its send time
(``CLOCK_MONOTONIC``, shared by the processes of one machine); a client notes its arrival
time. Per round: deliveries per second = clients / (last arrival - send time), and every
client's latency. Rounds alternate subject and baseline, after a warm-up round of each.

Targets (issue 3): at least 50% of the bare rate, p99 latency under 150 ms.

``async def run(rt, ...) -> FanoutResult``; not wired into ``python -m tests.bench`` here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from overleg.identity import service as identity
from overleg.identity.models import User
from overleg.identity.schemas import TenantCreate
from overleg.kernel.clock import now
from overleg.kernel.events import outbox
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.security.principal import operator
from overleg.security.sessions import ACTIVE, start_session
from tests.bench.measure import Comparison, Sample

OPERATOR = operator("bench")
TARGET_RATIO = 0.5
TARGET_P99_MS = 150.0
#: a channel post as ``message.created`` carries it (ids, author, rendered HTML)
HTML = "<p>" + "The quarterly numbers are in; see the attached report. " * 4 + "</p>"
CONNECT_CONCURRENCY = 50
ROUND_TIMEOUT = 60.0


@dataclass
class FanoutResult:
    clients: int
    rounds: int
    payload_bytes: int
    #: subject: Overleg deliveries; baseline: bare broadcast deliveries (Sample per round)
    comparison: Comparison
    overleg_latency_ms: list[float] = field(default_factory=list)
    bare_latency_ms: list[float] = field(default_factory=list)

    @staticmethod
    def _pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def ratio(self) -> float:
        """Median over rounds of Overleg's deliveries/s divided by the bare rate."""
        return self.comparison.ratio

    @property
    def overleg_p50_ms(self) -> float:
        return self._pct(self.overleg_latency_ms, 50)

    @property
    def overleg_p99_ms(self) -> float:
        return self._pct(self.overleg_latency_ms, 99)

    @property
    def bare_p50_ms(self) -> float:
        return self._pct(self.bare_latency_ms, 50)

    @property
    def bare_p99_ms(self) -> float:
        return self._pct(self.bare_latency_ms, 99)

    @property
    def within_target(self) -> bool:
        return self.ratio >= TARGET_RATIO and self.overleg_p99_ms < TARGET_P99_MS

    def summary(self) -> str:
        c = self.comparison
        return (
            f"fan-out to {self.clients} sockets ({self.payload_bytes} B), {self.rounds} rounds: "
            f"Overleg {c.subject.rate:,.0f} deliveries/s "
            f"(p50 {self.overleg_p50_ms:.1f} ms, p99 {self.overleg_p99_ms:.1f} ms), "
            f"bare websockets {c.baseline.rate:,.0f} deliveries/s "
            f"(p50 {self.bare_p50_ms:.1f} ms, p99 {self.bare_p99_ms:.1f} ms); "
            f"ratio {self.ratio:.2f} (target >= {TARGET_RATIO}), "
            f"{'within' if self.within_target else 'OUTSIDE'} target"
        )


def _raise_file_limit() -> None:
    """Two sockets per client per server: lift the soft limit on open files to the hard."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- seeding -------------------------------------------------------------------------------


async def _seed(rt: Runtime, clients: int) -> tuple[uuid.UUID, list[uuid.UUID], list[str]]:
    """An organisation with ``clients`` members, each with a signed-in session."""
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(
            OPERATOR, db, TenantCreate(name="Fanout", slug="fanout", domain="fanout.example")
        )
    users, tokens = [], []
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        rows = [
            User(
                tenant_id=tenant.id,
                email=f"user{i:05d}@fanout.example",
                display_name=f"User {i}",
            )
            for i in range(clients)
        ]
        db.add_all(rows)
        await db.flush()
        for u in rows:
            token, _ = await start_session(
                db, u, state=ACTIVE, ip="127.0.0.1", user_agent="bench", mfa_at=now()
            )
            users.append(u.id)
            tokens.append(token)
    return tenant.id, users, tokens


# -- the two servers -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _overleg(rt: Runtime) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(
        create_app(rt, check_schema=False),
        log_config=None,
        access_log=False,
        lifespan="on",
        backlog=2048,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


class _Bare:
    """The baseline server's handler: it only keeps its connections."""

    def __init__(self, expected: int) -> None:
        self.connections: set[ServerConnection] = set()
        self.expected = expected
        self.all_connected = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.add(ws)
        if len(self.connections) >= self.expected:
            self.all_connected.set()
        try:
            await ws.wait_closed()
        finally:
            self.connections.discard(ws)


# -- the controller -------------------------------------------------------------------------


def _payload(tenant_id: uuid.UUID, side: str, round_no: int, sent_ns: int) -> dict[str, Any]:
    return {
        "bench": {"side": side, "round": round_no, "sent_ns": sent_ns},
        "message": {
            "id": str(uuid.UUID(int=round_no)),
            "container_type": "channel",
            "container_id": str(tenant_id),
            "author_id": str(tenant_id),
            "created_at": "2026-11-29T12:00:00+00:00",
            "html": HTML,
        },
    }


class _Worker:
    """The child process holding the client sockets."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), ROUND_TIMEOUT)
        if not raw:
            raise RuntimeError("the client process ended early")
        msg: dict[str, Any] = json.loads(raw)
        return msg


async def run(rt: Runtime, *, clients: int = 1000, rounds: int = 5) -> FanoutResult:
    """Measure ``rounds`` alternating rounds of each side (after one warm-up round each)."""
    _raise_file_limit()
    tenant_id, users, tokens = await _seed(rt, clients)
    bare = _Bare(clients)
    comparison = Comparison()
    result = FanoutResult(clients, rounds, 0, comparison)
    async with (
        _overleg(rt) as port,
        serve(bare.handler, "127.0.0.1", 0, max_queue=None) as bare_server,
    ):
        bare_port = next(iter(bare_server.sockets)).getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.fanout",
            "--worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = _Worker(process)
        try:
            config = {
                "overleg": f"ws://127.0.0.1:{port}/api/v1/events",
                "origin": f"http://127.0.0.1:{port}",
                "bare": f"ws://127.0.0.1:{bare_port}/",
                "tokens": tokens,
            }
            assert process.stdin is not None
            process.stdin.write(json.dumps(config).encode() + b"\n")
            await process.stdin.drain()
            ready = await worker.line()
            assert ready == {"ready": clients}, ready
            await asyncio.wait_for(bare.all_connected.wait(), ROUND_TIMEOUT)

            async def overleg_round(n: int) -> dict[str, Any]:
                sent = time.monotonic_ns()
                payload = _payload(tenant_id, "overleg", n, sent)
                async with rt.database.transaction(tenant_id=tenant_id) as db:
                    await outbox.emit(
                        db,
                        tenant_id=tenant_id,
                        type="message.created",
                        payload=payload,
                        recipients=users,
                    )
                return await worker.line()

            async def bare_round(n: int) -> dict[str, Any]:
                sent = time.monotonic_ns()
                text = json.dumps(
                    {
                        "id": n,
                        "type": "message.created",
                        "data": _payload(tenant_id, "bare", n, sent),
                    },
                    separators=(",", ":"),
                )
                result.payload_bytes = len(text)
                broadcast(bare.connections, text)
                return await worker.line()

            await overleg_round(0)  # warm-up: connections, statements, caches
            await bare_round(0)
            for n in range(1, rounds + 1):
                order = (overleg_round, bare_round) if n % 2 else (bare_round, overleg_round)
                for one in order:
                    cpu = time.process_time()
                    got = await one(n)
                    cpu = time.process_time() - cpu
                    sample = Sample(got["count"], got["span_ns"] / 1e9, cpu)
                    latencies = [ns / 1e6 for ns in got["latency_ns"]]
                    if got["side"] == "overleg":
                        comparison.subject.samples.append(sample)
                        result.overleg_latency_ms += latencies
                    else:
                        comparison.baseline.samples.append(sample)
                        result.bare_latency_ms += latencies
        finally:
            if process.stdin is not None:
                process.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)
            if process.returncode is None:
                process.kill()
                await process.wait()
    return result


# -- the worker (child process) ------------------------------------------------------------------


async def _client(
    url: str, results: dict[tuple[str, int], list[int]], expected: int, **kw: Any
) -> ClientConnection:
    ws = await connect(url, max_queue=None, open_timeout=60, **kw)

    async def reader() -> None:
        async for raw in ws:
            arrived = time.monotonic_ns()
            msg = json.loads(raw)
            bench = msg.get("data", {}).get("bench")
            if bench is None:
                continue  # resync, presence: not part of the measurement
            key = (bench["side"], bench["round"])
            got = results.setdefault(key, [])
            got.append(arrived - bench["sent_ns"])
            if len(got) == expected:
                sys.stdout.write(
                    json.dumps(
                        {
                            "side": key[0],
                            "round": key[1],
                            "count": expected,
                            "span_ns": max(got),
                            "latency_ns": got,
                        }
                    )
                    + "\n"
                )
                sys.stdout.flush()

    asyncio.get_running_loop().create_task(reader())
    return ws


async def _worker() -> None:
    _raise_file_limit()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    tokens: list[str] = config["tokens"]
    results: dict[tuple[str, int], list[int]] = {}
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    n = len(tokens)

    async def one(url: str, **kw: Any) -> ClientConnection:
        async with limit:
            return await _client(url, results, n, **kw)

    sockets = await asyncio.gather(
        *(
            one(
                config["overleg"],
                origin=config["origin"],
                additional_headers={"Cookie": f"overleg_session={t}"},
            )
            for t in tokens
        ),
        *(one(config["bare"]) for _ in tokens),
    )
    sys.stdout.write(json.dumps({"ready": n}) + "\n")
    sys.stdout.flush()
    await reader.read()  # until the controller closes our stdin
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.fanout", description=__doc__)
    p.add_argument("--worker", action="store_true", help="(internal) run the client sockets")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--postgres", action="store_true")
    args = p.parse_args(argv)
    if args.worker:
        asyncio.run(_worker())
        return 0
    print(asyncio.run(_standalone(args.clients, args.rounds, args.postgres)).summary())
    return 0


async def _standalone(clients: int, rounds: int, postgres: bool) -> FanoutResult:
    """Run on its own (until it is wired into ``python -m tests.bench``)."""
    import tempfile
    from pathlib import Path

    from tests.bench.backend import drop_postgres, make_runtime, prepare_postgres, prepare_sqlite

    with tempfile.TemporaryDirectory(prefix="overleg-fanout-") as tmp:
        if postgres:
            backend = await prepare_postgres()
        else:
            backend = await asyncio.to_thread(prepare_sqlite, Path(tmp))
        rt = make_runtime(backend, Path(tmp) / "data")
        try:
            return await run(rt, clients=clients, rounds=rounds)
        finally:
            await rt.database.dispose()
            if postgres:
                await drop_postgres(backend)


if __name__ == "__main__":
    sys.exit(main())
