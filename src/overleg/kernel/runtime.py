"""The process's shared parts, reachable from any session that the runtime's database
opened. Services take ``(principal, db, ...)`` and find infrastructure through
``runtime_of(db)`` instead of globals, so two runtimes (SQLite and PostgreSQL in one
test run) never mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.events.broker import Broker

if TYPE_CHECKING:
    from overleg.files.storage import ObjectStore
    from overleg.kernel.crypto.keys import KeyService
    from overleg.kernel.db.session import Database
    from overleg.security.authn.passwords import PasswordHasher
    from overleg.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    database: Database
    keys: KeyService
    hasher: PasswordHasher
    extras: dict[str, Any] = field(default_factory=dict)
    #: where sealed blobs (files, recordings) are stored
    objects: ObjectStore | None = None
    #: carries committed outbox events (and typing, presence) to every node's gateway
    broker: Broker = field(default_factory=Broker)
    #: this process's WebSocket gateway (``overleg.realtime.gateway.Gateway``) while the
    #: app is serving; None in the CLI, jobs and apps whose lifespan did not run
    gateway: Any = None
    #: the media plane (``overleg.meetings.media.plane.MediaPlane``) while the app is
    #: serving; None in the CLI, jobs and apps whose lifespan did not run
    media: Any = None


def runtime_of(db: AsyncSession) -> Runtime:
    rt = db.info.get("runtime")
    if not isinstance(rt, Runtime):
        raise RuntimeError("session was not opened by a runtime's Database")
    return rt
