"""Recording expiry, run by the scheduler on every node (and callable by the operator).

1. ``recycle_expired``: a ready recording whose ``expires_at`` has passed goes to the
   recycle state (hidden from viewers; listed to and restorable by its owners).
2. ``purge_recycled``: a recording recycled longer than the policy's ``recycle_days`` is
   purged: every blob (files and manifest) is deleted from the object store, its file rows
   go, and the row stays as ``purged`` (the record that it existed and when it went).

Retention policies and legal holds (a later issue) keep recordings by registering a check
in ``PURGE_BLOCKERS``: a reason (not None) keeps the recording recycled. The reason is
noted on the row (``Recording.error``, unused once a recording is ready) so that it is
logged and audited once, not at every run; a changed reason is audited again.

Both steps are idempotent and safe on several nodes at once: each row changes state with a
conditional UPDATE, and only the node whose UPDATE changed it goes on (and audits).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.service import record
from overleg.identity.service import active_tenants
from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from overleg.meetings.models import Recording, RecordingFile
from overleg.meetings.recordings import store
from overleg.meetings.recordings.access import recording_policy
from overleg.meetings.recordings.rules import RecordingState
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize
from overleg.security.authz.pdp import Resource
from overleg.security.principal import Principal, for_tenant, system

log = structlog.get_logger("overleg.recordings")

#: a check that may keep a recycled recording from being purged: returns why (None: it
#: does not object). Registered by retention and legal hold; called inside the purge's
#: transaction, on the tenant's scoped session.
PurgeBlocker = Callable[[AsyncSession, Recording], Awaitable[str | None]]
PURGE_BLOCKERS: list[PurgeBlocker] = []

#: how a hold is noted on the row (see the module docstring)
HELD = "purge held: "
TARGET = "recording"


async def _moved(
    db: AsyncSession, rec_id: uuid.UUID, frm: RecordingState, **values: object
) -> bool:
    """Set ``values`` on the recording if it is still in state ``frm``; whether it was (so
    exactly one node acts on each recording)."""
    done = await db.execute(
        update(Recording)
        .where(Recording.id == rec_id, Recording.state == frm.value)
        .values(**values)
    )
    return bool(getattr(done, "rowcount", 0))


async def recycle_expired(db: AsyncSession, principal: Principal) -> list[uuid.UUID]:
    """Move the session tenant's ready recordings whose expiry has passed to the recycle
    state; their ids."""
    authorize(principal, Action.RECORDING_MANAGE, Resource(TARGET))
    t = now()
    due = list(
        await db.scalars(
            select(Recording)
            .where(
                Recording.state == RecordingState.READY.value,
                Recording.expires_at.is_not(None),
                Recording.expires_at <= t,
            )
            .order_by(Recording.expires_at, Recording.id)
        )
    )
    out = []
    for rec in due:
        if not await _moved(
            db, rec.id, RecordingState.READY, state=RecordingState.RECYCLED.value, recycled_at=t
        ):
            continue  # another node, or its owner, was first
        await record(
            principal,
            db,
            "recording.expire",
            target_type=TARGET,
            target_id=rec.id,
            details={"expires_at": rec.expires_at.isoformat() if rec.expires_at else None},
        )
        out.append(rec.id)
    return out


async def _held(db: AsyncSession, rec: Recording) -> str | None:
    for check in PURGE_BLOCKERS:
        reason = await check(db, rec)
        if reason is not None:
            return reason
    return None


async def _note_hold(db: AsyncSession, principal: Principal, rec: Recording, reason: str) -> None:
    """Note (once per reason) that ``reason`` keeps ``rec`` from being purged."""
    note = (HELD + reason)[:500]
    noted = await db.execute(
        update(Recording)
        .where(
            Recording.id == rec.id,
            Recording.state == RecordingState.RECYCLED.value,
            or_(Recording.error.is_(None), Recording.error != note),
        )
        .values(error=note)
    )
    if not getattr(noted, "rowcount", 0):
        return  # noted before (by this node or another)
    log.info("recording_purge_held", recording=str(rec.id), reason=reason)
    await record(
        principal,
        db,
        "recording.purge_held",
        target_type=TARGET,
        target_id=rec.id,
        details={"reason": reason},
    )


async def _delete_blobs(db: AsyncSession, rec: Recording) -> int:
    """Delete every stored blob of ``rec`` and its file rows; how many files it had.
    Deleting a blob that is gone already is no error (a run cut short is run again)."""
    files = list(
        await db.scalars(select(RecordingFile).where(RecordingFile.recording_id == rec.id))
    )
    for f in files:
        await store.delete(db, rec.tenant_id, rec.id, str(f.id))
    await store.delete(db, rec.tenant_id, rec.id, store.MANIFEST)
    await db.execute(delete(RecordingFile).where(RecordingFile.recording_id == rec.id))
    return len(files)


async def purge_recycled(db: AsyncSession, principal: Principal) -> list[uuid.UUID]:
    """Purge the session tenant's recordings recycled longer than the policy's
    ``recycle_days`` that no ``PURGE_BLOCKERS`` check holds; their ids.

    The row is claimed (state ``purged``) before the blobs are deleted, so one node does
    the work; the blobs go before the transaction commits, so a failure leaves a row that
    the next run purges again rather than a ``purged`` row with content left behind.
    """
    authorize(principal, Action.RECORDING_MANAGE, Resource(TARGET))
    days = (await recording_policy(db)).recycle_days
    t = now()
    due = list(
        await db.scalars(
            select(Recording)
            .where(
                Recording.state == RecordingState.RECYCLED.value,
                Recording.recycled_at <= t - timedelta(days=days),
            )
            .order_by(Recording.recycled_at, Recording.id)
        )
    )
    out = []
    for rec in due:
        reason = await _held(db, rec)
        if reason is not None:
            await _note_hold(db, principal, rec, reason)
            continue
        if not await _moved(
            db,
            rec.id,
            RecordingState.RECYCLED,
            state=RecordingState.PURGED.value,
            purged_at=t,
            manifest_object=None,
            manifest_key_enc=None,
            error=None,
        ):
            continue
        files = await _delete_blobs(db, rec)
        await record(
            principal,
            db,
            "recording.purge",
            target_type=TARGET,
            target_id=rec.id,
            details={
                "files": files,
                "recycled_at": rec.recycled_at.isoformat() if rec.recycled_at else None,
                "recycle_days": days,
            },
        )
        out.append(rec.id)
    return out


@dataclass
class ExpiryRun:
    """What one run did: (tenant slug, recording id) pairs."""

    recycled: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    purged: list[tuple[str, uuid.UUID]] = field(default_factory=list)


async def run_expiry_everywhere(rt: Runtime, *, actor: Principal | None = None) -> ExpiryRun:
    """Recycle expired and purge long-recycled recordings in every tenant, one transaction
    per tenant and step. ``actor`` defaults to the system."""
    who = actor or system(job="recordings.expiry")
    async with rt.database.transaction(unscoped=True) as db:
        tenants = await active_tenants(db)
    run = ExpiryRun()
    for t in tenants:
        p = for_tenant(who, t.id)
        async with rt.database.transaction(tenant_id=t.id) as db:
            run.recycled += [(t.slug, r) for r in await recycle_expired(db, p)]
        async with rt.database.transaction(tenant_id=t.id) as db:
            run.purged += [(t.slug, r) for r in await purge_recycled(db, p)]
    return run
