"""Check, concurrently and each within ``CHECK_TIMEOUT_SECONDS``, that the database, Redis,
every Janus instance and clamd answer.

A check never raises: whatever goes wrong is a ``down`` component with a short reason.
Reasons name the kind of failure, not addresses, paths or secrets: tenant admins see them,
and the infrastructure belongs to whoever runs the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.files.scanning.clamd import ClamdClient
from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.meetings.media.janus import JanusClient
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.principal import Principal
from overleg.status.schemas import ComponentName, ComponentStatus, ServiceStatus

#: the bound of each check; the status page waits at most this long (plus a little)
CHECK_TIMEOUT_SECONDS = 3.0

#: a check returns a detail (the version that answered) or raises
Probe = Callable[[], Awaitable[str | None]]


class Down(Exception):
    """A failure whose message is safe to show as it is."""


async def service_status(principal: Principal, db: AsyncSession) -> ServiceStatus:
    """Every dependency's state, checked now (not audited: it reads no tenant data)."""
    authorize(principal, Action.STATUS_READ)
    rt = runtime_of(db)
    checks = [
        _run("database", None, lambda: _database(rt)),
        _redis(rt),
        *_janus(rt),
        _run("clamd", None, lambda: _clamd(rt)),
    ]
    return ServiceStatus(
        checked_at=now(),
        timeout_seconds=CHECK_TIMEOUT_SECONDS,
        components=list(await asyncio.gather(*checks)),
    )


async def _run(name: ComponentName, instance: str | None, probe: Probe) -> ComponentStatus:
    started = time.monotonic()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            detail = await probe()
    except TimeoutError:
        reason = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        return ComponentStatus(component=name, instance=instance, state="down", detail=reason)
    except Exception as e:  # the page must answer, whatever broke
        return ComponentStatus(component=name, instance=instance, state="down", detail=_reason(e))
    ms = round((time.monotonic() - started) * 1000)
    return ComponentStatus(
        component=name, instance=instance, state="ok", detail=detail, latency_ms=ms
    )


def _reason(e: BaseException) -> str:
    """A few words on a failure, without the messages (they carry addresses)."""
    if isinstance(e, Down):
        return str(e)
    for err in (e, e.__cause__, e.__context__):
        if isinstance(err, TimeoutError):
            return "no answer in time"
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, FileNotFoundError):
            return "no socket to connect to"
        if isinstance(err, PermissionError):
            return "not permitted to connect"
    return f"not reachable ({type(e).__name__})"


async def _database(rt: Runtime) -> str:
    # a connection of its own, read-only: on SQLite a writing one would wait for the
    # request's own transaction to end
    engine = rt.database.engine.execution_options(overleg_readonly=True)
    async with engine.connect() as conn:
        await conn.execute(text("select 1"))
        version = conn.dialect.server_version_info or ()
    return " ".join([conn.dialect.name, ".".join(str(v) for v in version)]).strip()


def _redis(rt: Runtime) -> Awaitable[ComponentStatus]:
    url = rt.settings.redis_url
    if not url:
        return _not_configured("redis")

    async def probe() -> str:
        client = Redis.from_url(
            url,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
        )
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return f"Redis {info.get('redis_version', '')}".strip()

    return _run("redis", None, probe)


def _janus(rt: Runtime) -> list[Awaitable[ComponentStatus]]:
    """One check per configured instance. While the app serves, through the media plane's
    own connection (its state is what meetings get); otherwise a connection of its own."""
    servers = rt.settings.media_janus
    if not servers:
        return [_not_configured("janus")]
    secret = rt.settings.media_api_secret
    api_secret = secret.get_secret_value() if secret is not None else None
    plane = rt.media
    out: list[Awaitable[ComponentStatus]] = []
    for server in servers:

        async def probe(name: str = server.name, url: str = server.url) -> str:
            inst = next((i for i in plane.instances if i.name == name), None) if plane else None
            if inst is not None:
                if not inst.up or inst.client is None:
                    raise Down("not connected; reconnecting")
                info = await inst.client.info(timeout=CHECK_TIMEOUT_SECONDS)
            else:
                client = await JanusClient.connect(
                    url, api_secret=api_secret, timeout=CHECK_TIMEOUT_SECONDS
                )
                try:
                    info = await client.info(timeout=CHECK_TIMEOUT_SECONDS)
                finally:
                    await client.close(timeout=CHECK_TIMEOUT_SECONDS)
            return f"Janus {info.get('version_string', '')}".strip()

        out.append(_run("janus", server.name, probe))
    return out


async def _clamd(rt: Runtime) -> str:
    client = ClamdClient.from_settings(rt.settings)
    client.command_timeout = CHECK_TIMEOUT_SECONDS
    await client.ping()
    return await client.version()


async def _not_configured(name: ComponentName) -> ComponentStatus:
    return ComponentStatus(component=name, state="not_configured")
