"""Using a sharing link: what it shows, and the file's content (whole or one byte range).

The token finds its organisation first (``tenant_of_link``, on an unscoped session, as a
meeting's join code does); all else happens in a session of that organisation. A revoked
or expired link, a deleted file and a token that exists nowhere get the same 404.

- ``people`` links need a signed-in account of the organisation that is not a guest:
  guests and outsiders are what ``anyone`` links (and the policy that allows them) are for.
  ``anyone`` links work without a session; whoever follows one acts, and is audited, as
  an anonymous visitor of the organisation (a person signed in elsewhere under their name).
- A password goes in the ``X-Link-Password`` header. Wrong ones are counted per link and
  address and per link, with the sign-in throttle's thresholds and growing delays (429
  while blocked, without checking the password). The count and the audit record of a
  wrong password must outlive the answer: such refusals are returned in an ``Attempt``,
  and the transport raises them after the transaction commits (as sign-in does).
- Only a clean file opens through a link, whoever follows it (its uploader too).
- Links follow the file's place: a file of a deleted channel or team opens through no link
  (404, as a missing one); in an archived one nothing is written through a link.

Redeeming (``redeem_link``): a signed-in account of the link's organisation (for a
``people`` link not a guest) keeps the link: a ``FileLinkGrant`` through which the normal
file API lets them reach the file with the link's role while the link is active
(``access.file_place``). Accounts of other organisations are refused, on record in their
own organisation's log.

Editing without an account (``upload_by_link``): through an ``anyone`` link with the role
``edit``, whoever is not signed in to the organisation sends the whole new content, at
most one part, and it becomes the file's next version, ``scan_pending``, uploaded by
``LINK_UPLOADER`` with the link's id. People with an account of the organisation redeem
the link and upload as themselves instead.

Tokens themselves are not throttled: 256 random bits are not guessed. Every use is audited:
``file.link_use`` (the details), ``file.download`` with the link's id (the content),
``file.link_redeem`` and ``file.upload`` with the link's id.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit.schemas import Outcome
from overleg.audit.service import record, with_audit
from overleg.files import blobs
from overleg.files.access import may_open, place_state
from overleg.files.content import blocked, detect_full
from overleg.files.models import (
    LINK_UPLOADER,
    Blob,
    FileItem,
    FileLinkGrant,
    FileVersion,
    ShareLink,
)
from overleg.files.schemas import LinkView, SharedFilePublic
from overleg.files.sharing import LINK_PATH, link_state
from overleg.files.streams import Stream
from overleg.files.uploads import QuotaExceeded, _used, add_version, file_public, open_name, policy
from overleg.kernel.clock import now
from overleg.kernel.errors import (
    Forbidden,
    NotFound,
    OverlegError,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime, runtime_of
from overleg.security.authn import throttle
from overleg.security.authn.tokens import hash_token
from overleg.security.authz.enforce import refuse
from overleg.security.principal import Principal, PrincipalKind

T = TypeVar("T")

MISSING = "This link does not exist, was turned off or has expired. Ask for a new one."
TOKEN_MAX = 100  # longer than any token we make


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What using a link came to: ``value``, or ``refused``, to raise after the transaction
    has committed (its audit record and failure count are in it)."""

    value: T | None = None
    refused: OverlegError | None = None

    def get(self) -> T:
        if self.refused is not None:
            raise self.refused
        assert self.value is not None
        return self.value


async def tenant_of_link(db: AsyncSession, token: str) -> uuid.UUID:
    """The organisation of the link with ``token`` (``db`` unscoped); 404 if none."""
    tenant: uuid.UUID | None = await db.scalar(
        select(ShareLink.tenant_id).where(ShareLink.token_hash == hash_token(token[:TOKEN_MAX]))
    )
    if tenant is None:
        raise NotFound(MISSING)
    return tenant


def _visitor(principal: Principal, tenant_id: uuid.UUID) -> Principal:
    """Whom to act and audit as inside the link's organisation."""
    if principal.kind is PrincipalKind.USER and principal.tenant_id == tenant_id:
        return principal
    elsewhere = principal.kind is PrincipalKind.USER
    return replace(
        principal,
        kind=PrincipalKind.ANONYMOUS,
        tenant_id=tenant_id,
        user_id=None,
        roles=frozenset(),
        session_id=None,
        mfa_at=None,
        amr=(),
        label=f"{principal.label} (another organisation)"[:320] if elsewhere else "anonymous",
        extra={"home_tenant_id": str(principal.tenant_id)} if elsewhere else {},
    )


def _limits(db: AsyncSession) -> throttle.Limits:
    s = runtime_of(db).settings
    return throttle.Limits(
        per_account_ip=s.throttle_account_ip_threshold,
        per_account=s.throttle_account_threshold,
        per_ip=s.throttle_ip_threshold,
        max_delay_seconds=s.throttle_max_delay_seconds,
    )


async def _password(
    actor: Principal, db: AsyncSession, link: ShareLink, given: str | None, action: str
) -> OverlegError | None:
    """Check the link's password (see the module docstring); the refusal to raise after
    commit, if any."""
    assert link.password_hash is not None
    limits = _limits(db)
    mine = f"link:{link.id}:{actor.ip or 'unknown'}"
    keys = {mine: limits.per_account_ip, f"link:{link.id}": limits.per_account}
    wait = await throttle.retry_after(db, list(keys))
    if wait:
        await record(
            actor,
            db,
            action,
            outcome=Outcome.FAILED,
            target_type="file_link",
            target_id=link.id,
            details={"reason": "throttled", "retry_after": wait},
        )
        return TooManyAttempts(
            f"Too many wrong passwords for this link. Try again in {wait} seconds.",
            retry_after=wait,
        )
    if not given:
        raise with_audit(
            Unauthenticated(
                "This link has a password: send it in the X-Link-Password header.",
                extra={"password_required": True},
            ),
            actor,
            action,
            outcome=Outcome.DENIED,
            target_type="file_link",
            target_id=link.id,
            details={"reason": "no password"},
        )
    if not await runtime_of(db).hasher.verify_async(link.password_hash, given):
        await throttle.fail(db, keys, limits)
        await record(
            actor,
            db,
            action,
            outcome=Outcome.FAILED,
            target_type="file_link",
            target_id=link.id,
            details={"reason": "wrong password"},
        )
        return Forbidden("The link's password is not right.", extra={"password_required": True})
    await throttle.clear(db, [mine])
    return None


@dataclass(frozen=True)
class _Used:
    actor: Principal
    link: ShareLink
    file: FileItem
    version: FileVersion


async def _use(
    principal: Principal,
    db: AsyncSession,
    token: str,
    password: str | None,
    action: str,
    *,
    account: bool = False,
) -> _Used | OverlegError:
    """The link of ``token``, its file and that file's current version, if the caller may
    use it (``account``: only as a signed-in account of the link's organisation, whatever
    the audience); a refusal to raise after commit (passwords), or raises."""
    link = await db.scalar(
        select(ShareLink).where(ShareLink.token_hash == hash_token(token[:TOKEN_MAX]))
    )
    if link is None:  # gone since tenant_of_link looked
        raise NotFound(MISSING)
    actor = _visitor(principal, link.tenant_id)

    def denied(err: OverlegError, reason: str) -> OverlegError:
        return with_audit(
            err,
            actor,
            action,
            outcome=Outcome.DENIED,
            target_type="file_link",
            target_id=link.id,
            details={"reason": reason},
        )

    state = link_state(link)
    if state != "active":
        raise denied(NotFound(MISSING), f"the link is {state}")
    f = await db.get(FileItem, link.file_id)
    if f is None or f.deleted_at is not None or f.current_version_id is None:
        raise denied(NotFound(MISSING), "the file is deleted")
    if await place_state(db, f) == "deleted":
        raise denied(NotFound(MISSING), "the file's place is deleted")
    if account and principal.kind is PrincipalKind.USER and actor is not principal:
        # an account of another organisation: its own organisation keeps the record
        raise refuse(
            principal,
            action,
            "only accounts of the link's organisation keep a link",
            target_type="file_link",
            target_id=str(link.id),
        )
    if link.audience == "people" or account:
        if principal.kind is not PrincipalKind.USER:
            raise denied(
                Unauthenticated("Sign in with your account of the organisation to open this link."),
                "not signed in",
            )
        if link.audience == "people" and (actor is not principal or principal.is_guest):
            raise refuse(
                actor,
                action,
                "this link is for the organisation's own people",
                target_type="file_link",
                target_id=str(link.id),
            )
    if link.password_hash is not None:
        refused = await _password(actor, db, link, password, action)
        if refused is not None:
            return refused
    v = await db.get(FileVersion, f.current_version_id)
    assert v is not None
    return _Used(actor, link, f, v)


async def view_link(
    principal: Principal, db: AsyncSession, token: str, password: str | None
) -> Attempt[LinkView]:
    """What the link shows: the file's name, size, type and state, and the link's terms."""
    action = "file.link_use"
    used = await _use(principal, db, token, password, action)
    if isinstance(used, OverlegError):
        return Attempt(refused=used)
    f, v, link = used.file, used.version, used.link
    await record(
        used.actor,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={"link": str(link.id), "audience": link.audience, "role": link.role},
    )
    return Attempt(
        LinkView(
            name=await open_name(db, f.tenant_id, f.id, f.name_enc),
            size=v.size,
            content_type=v.content_type,
            state=v.scan_state,
            version=v.number,
            updated_at=f.updated_at,
            role=link.role,
            audience=link.audience,
            expires_at=link.expires_at,
            content_url=f"{LINK_PATH}{token[:TOKEN_MAX]}/content",
        )
    )


async def open_link(
    principal: Principal,
    db: AsyncSession,
    token: str,
    password: str | None,
    range_header: str | None,
) -> Attempt[Stream]:
    """The current version's content through the link, whole or one byte range; audited
    as ``file.download`` with the link's id. Only clean files (403 otherwise, audited)."""
    action = "file.download"
    used = await _use(principal, db, token, password, action)
    if isinstance(used, OverlegError):
        return Attempt(refused=used)
    f, v, link = used.file, used.version, used.link
    if v.scan_state != "clean":
        # may_open's reasons, as for someone who did not upload it: not even the uploader
        # opens a pending file through a link
        why = may_open(replace(used.actor, user_id=None), f, v) or v.scan_state
        raise refuse(used.actor, action, why, target_type="file", target_id=str(f.id))
    blob = await db.get(Blob, v.blob_id)
    assert blob is not None
    out = await blobs.stream(
        db, blob, range_header, content_type=v.content_type, filename=f"{f.id}"
    )
    details: dict[str, object] = {"link": str(link.id), "version": v.number, "size": v.size}
    if out.status == 206:
        details["range"] = f"{out.start}-{out.end}"
    await record(used.actor, db, action, target_type="file", target_id=f.id, details=details)
    return Attempt(out)


async def redeem_link(
    principal: Principal, db: AsyncSession, token: str, password: str | None
) -> Attempt[SharedFilePublic]:
    """Keep the link (see the module docstring): the caller's grant, made once (redeeming
    again changes nothing), and the file as they now reach it. Audited each time as
    ``file.link_redeem``."""
    action = "file.link_redeem"
    used = await _use(principal, db, token, password, action, account=True)
    if isinstance(used, OverlegError):
        return Attempt(refused=used)
    f, v, link = used.file, used.version, used.link
    assert principal.user_id is not None
    grant = await db.scalar(
        select(FileLinkGrant).where(
            FileLinkGrant.link_id == link.id, FileLinkGrant.user_id == principal.user_id
        )
    )
    made = grant is None
    if grant is None:
        grant = FileLinkGrant(
            id=new_id(),
            tenant_id=link.tenant_id,
            link_id=link.id,
            file_id=f.id,
            user_id=principal.user_id,
            at=now(),
        )
        db.add(grant)
        await db.flush()
    await record(
        principal,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={
            "link": str(link.id),
            "role": link.role,
            "audience": link.audience,
            "new": made,
        },
    )
    base = await file_public(db, f, v)
    return Attempt(
        SharedFilePublic(
            **base.model_dump(),
            role=link.role,
            shared_by=link.created_by,
            shared_at=grant.at,
            via_link=link.id,
        )
    )


class ContentTooLarge(OverlegError):
    status = 413
    type = "too-large"
    title = "Request too large"


@asynccontextmanager
async def discarding(rt: Runtime) -> AsyncIterator[list[str]]:
    """Objects written into the list are deleted from the store if the block fails (the
    transaction that was to reference them refused), and kept otherwise."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        store = rt.objects
        if store is not None:
            for name in written:
                await store.delete(name)
        raise


async def _one_part(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    got: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ContentTooLarge(
                f"Through a link a new version is at most {limit} bytes (one part): larger "
                "files are uploaded by people with an account of the organisation.",
                extra={"max_bytes": limit},
            )
        got.append(chunk)
    if size == 0:
        raise ValidationFailed("The content is empty: send the whole new file as the body.")
    return b"".join(got)


async def _store_one_part(
    db: AsyncSession, tenant_id: uuid.UUID, data: bytes, written: list[str]
) -> Blob:
    blob = await blobs.new_blob(db, tenant_id, len(data))
    written.append(blobs.part_object(tenant_id, blob.id, 0))  # before: a failed write too

    async def body() -> AsyncIterator[bytes]:
        yield data

    await blobs.put_part(db, blob, 0, body())
    blob.complete = True
    return blob


async def upload_by_link(
    principal: Principal,
    db: AsyncSession,
    token: str,
    password: str | None,
    chunks: AsyncIterable[bytes],
    written: list[str],
) -> Attempt[LinkView]:
    """A new version of the link's file from ``chunks`` (the whole content, at most one
    part: 413 otherwise), by someone without an account of the organisation, through an
    ``anyone`` link to edit (403 for a link to view, for people signed in to the
    organisation, and in an archived place; audited). Its type is told from its content
    and refused as uploads are (the policy's ``blocked_kinds``, 403), then the tenant's
    quota (507). The parts it stores are named in ``written`` (see ``discarding``).
    Audited as ``file.upload`` with the link's id."""
    action = "file.upload"
    used = await _use(principal, db, token, password, action)
    if isinstance(used, OverlegError):
        return Attempt(refused=used)
    actor, f, link = used.actor, used.file, used.link

    def refused(why: str) -> Forbidden:
        return refuse(actor, action, why, target_type="file", target_id=str(f.id))

    if actor is principal:
        raise refused(
            "you have an account of the organisation: redeem the link and upload a new "
            "version as yourself"
        )
    if link.role != "edit":
        raise refused("the link is to view only")
    if await place_state(db, f) != "active":
        raise refused("this place is read-only")
    limit = runtime_of(db).settings.files_part_bytes
    data = await _one_part(chunks, limit)
    name = await open_name(db, f.tenant_id, f.id, f.name_enc)
    detected = detect_full(data, name)
    pol = await policy(db)
    why = blocked(detected, pol.blocked_kinds)
    if why is not None:
        raise refused(f"this kind of file is not allowed here ({why})")
    if len(data) > pol.max_file_bytes:
        raise ValidationFailed(
            f"The file is larger than the organisation allows ({pol.max_file_bytes} bytes)."
        )
    if pol.tenant_quota_bytes is not None and await _used(db) + len(data) > pol.tenant_quota_bytes:
        raise QuotaExceeded("The organisation's storage is full: ask the file's owner.")
    blob = await _store_one_part(db, f.tenant_id, data, written)
    v = await add_version(
        db,
        f,
        blob,
        content_type=detected.mime,
        uploaded_by=LINK_UPLOADER,
        at=now(),
        via_link_id=link.id,
    )
    await record(
        actor,
        db,
        action,
        target_type="file",
        target_id=f.id,
        details={
            "link": str(link.id),
            "version": v.number,
            "size": blob.size,
            "content_type": detected.mime,
            "container": f"{f.container_type}:{f.container_id}",
        },
    )
    return Attempt(
        LinkView(
            name=name,
            size=v.size,
            content_type=v.content_type,
            state=v.scan_state,
            version=v.number,
            updated_at=f.updated_at,
            role=link.role,
            audience=link.audience,
            expires_at=link.expires_at,
            content_url=f"{LINK_PATH}{token[:TOKEN_MAX]}/content",
        )
    )
