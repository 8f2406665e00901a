"""Identity use cases: tenants, domains, users, groups.

Every verb authorizes first, changes state, and audits in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.audit import chain
from overleg.audit.service import record, with_audit
from overleg.identity.access import access_group, access_user
from overleg.identity.dns import txt_records
from overleg.identity.models import Group, GroupMember, RecoveryCode, Tenant, TenantDomain, User
from overleg.identity.rules import RuleSyntaxError, parse_rule
from overleg.identity.schemas import (
    DirectoryUser,
    DomainCreate,
    DomainPublic,
    GroupCreate,
    GroupPublic,
    RolesUpdate,
    TenantCreate,
    TenantPublic,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
    roles_of,
)
from overleg.kernel.clock import now
from overleg.kernel.db.session import rescope
from overleg.kernel.errors import Conflict, ServiceUnavailable, ValidationFailed
from overleg.kernel.runtime import runtime_of
from overleg.security.authn.passwords import WeakPassword, check_password
from overleg.security.authz.actions import Action
from overleg.security.authz.enforce import authorize, not_found_denied
from overleg.security.authz.pdp import Resource
from overleg.security.authz.visibility import visible_users
from overleg.security.principal import Principal, for_tenant
from overleg.security.sessions import revoke_user_sessions

TXT_PREFIX = "overleg-verification="


def user_public(u: User) -> UserPublic:
    data = {c: getattr(u, c) for c in UserPublic.model_fields if c != "mfa_enabled"}
    return UserPublic(**data, mfa_enabled=u.totp_enabled_at is not None)


async def _authorized_user(
    principal: Principal, db: AsyncSession, user_id: uuid.UUID, action: Action
) -> User:
    """Load a user the caller can see and authorize ``action`` on it (with its roles, so
    that only global admins act on admin accounts)."""
    user = await access_user(principal, db, user_id)
    authorize(principal, action, _resource(user))
    return user


def _resource(u: User) -> Resource:
    return Resource(
        "user", str(u.id), tenant_id=u.tenant_id, target_roles=roles_of(u.kind, u.admin_roles)
    )


# --- tenants ---------------------------------------------------------------------------


async def create_tenant(principal: Principal, db: AsyncSession, data: TenantCreate) -> TenantPublic:
    """Create an organisation with its keys, audit chain and default policies.

    ``db`` must be unscoped (the tenant does not exist yet); it is narrowed to the new
    tenant before tenant-owned rows are written.
    """
    authorize(principal, Action.TENANT_CREATE)
    if await db.scalar(select(Tenant.id).where(Tenant.slug == data.slug)):
        raise Conflict(f"An organisation with the short name {data.slug!r} exists already.")
    if data.domain and await db.scalar(
        select(TenantDomain.id).where(TenantDomain.domain == data.domain)
    ):
        raise Conflict(f"The domain {data.domain} belongs to another organisation.")
    tenant = Tenant(name=data.name, slug=data.slug)
    db.add(tenant)
    await db.flush()
    await record(
        principal,
        db,
        "tenant.create",
        target_type="tenant",
        target_id=tenant.id,
        details={"slug": data.slug},
    )
    await rescope(db, tenant.id)
    await chain.ensure_head(db, tenant.id)
    await runtime_of(db).keys.init_tenant(db, tenant.id)
    actor = for_tenant(principal, tenant.id)
    await record(
        actor,
        db,
        "tenant.create",
        target_type="tenant",
        target_id=tenant.id,
        details={"name": data.name, "slug": data.slug},
    )
    if data.domain:
        db.add(
            TenantDomain(
                tenant_id=tenant.id, domain=data.domain, verification_token=secrets.token_hex(16)
            )
        )
        await record(actor, db, "domain.add", target_type="domain", target_id=data.domain)
    await db.flush()
    return TenantPublic.model_validate(tenant)


async def list_tenants(principal: Principal, db: AsyncSession) -> list[TenantPublic]:
    authorize(principal, Action.TENANT_CREATE)
    rows = (await db.scalars(select(Tenant).order_by(Tenant.created_at))).all()
    return [TenantPublic.model_validate(t) for t in rows]


async def active_tenants(db: AsyncSession) -> list[TenantPublic]:
    """Every active tenant, for housekeeping jobs that run per tenant (no principal: the
    job's own use case authorizes what it does in each tenant)."""
    rows = await db.scalars(
        select(Tenant).where(Tenant.status == "active").order_by(Tenant.created_at)
    )
    return [TenantPublic.model_validate(t) for t in rows]


async def find_tenant(db: AsyncSession, slug: str) -> Tenant | None:
    """Look a tenant up by short name (operator CLI, sign-in)."""
    result: Tenant | None = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    return result


async def get_tenant(principal: Principal, db: AsyncSession) -> TenantPublic:
    authorize(principal, Action.TENANT_READ)
    tenant = await db.get(Tenant, principal.tenant_id)
    assert tenant is not None
    return TenantPublic.model_validate(tenant)


# --- domains ---------------------------------------------------------------------------


def _domain_public(d: TenantDomain) -> DomainPublic:
    pub = DomainPublic.model_validate(d)
    pub.txt_record = f"{TXT_PREFIX}{d.verification_token}"
    return pub


async def list_domains(principal: Principal, db: AsyncSession) -> list[DomainPublic]:
    authorize(principal, Action.TENANT_READ)
    rows = (await db.scalars(select(TenantDomain).order_by(TenantDomain.domain))).all()
    return [_domain_public(d) for d in rows]


async def add_domain(principal: Principal, db: AsyncSession, data: DomainCreate) -> DomainPublic:
    authorize(principal, Action.DOMAIN_MANAGE)
    # Domains are unique across tenants; the unique index answers (as a 409) when another
    # tenant holds it, without this tenant's scoped session ever reading other tenants.
    d = TenantDomain(
        tenant_id=principal.tenant_id, domain=data.domain, verification_token=secrets.token_hex(16)
    )
    db.add(d)
    await db.flush()
    await record(principal, db, "domain.add", target_type="domain", target_id=data.domain)
    return _domain_public(d)


async def verify_domain(principal: Principal, db: AsyncSession, domain: str) -> DomainPublic:
    """Check DNS for the domain's ``overleg-verification=<token>`` TXT record and, when it is
    there, mark the domain verified. A missing record is a 422 that says what to publish."""
    authorize(principal, Action.DOMAIN_MANAGE)
    d = await db.scalar(select(TenantDomain).where(TenantDomain.domain == domain))
    if d is None:
        raise not_found_denied(principal, "domain.verify", "domain", domain)
    expected = f"{TXT_PREFIX}{d.verification_token}"
    try:
        found = await txt_records(domain, runtime_of(db).settings.dns_nameservers)
    except LookupError as e:
        raise ServiceUnavailable(f"{e}. Try again later.") from e
    if expected not in found:
        err = ValidationFailed(
            f"No TXT record {expected!r} at {domain} yet. Publish it and try again "
            "(DNS changes can take a while to appear).",
            extra={"field": "domain"},
        )
        raise with_audit(
            err,
            principal,
            "domain.verify",
            target_type="domain",
            target_id=domain,
            details={"found": found[:10]},
        )
    d.verified_at = now()
    await record(
        principal,
        db,
        "domain.verify",
        target_type="domain",
        target_id=domain,
        details={"method": "dns-txt"},
    )
    return _domain_public(d)


async def mark_domain_verified(principal: Principal, db: AsyncSession, domain: str) -> DomainPublic:
    """Record that the organisation proved control of ``domain`` (TXT record checked)."""
    authorize(principal, Action.DOMAIN_MANAGE)
    d = await db.scalar(select(TenantDomain).where(TenantDomain.domain == domain))
    if d is None:
        raise ValidationFailed(f"The domain {domain} is not registered for this organisation.")
    d.verified_at = now()
    await record(principal, db, "domain.verify", target_type="domain", target_id=domain)
    return _domain_public(d)


# --- users -----------------------------------------------------------------------------


async def _check_new_password(db: AsyncSession, pw: str, email: str, display_name: str) -> None:
    tenant = await db.get(Tenant, db.info["tenant_id"])
    context = [email.split("@")[0], display_name, tenant.name if tenant else ""]
    try:
        check_password(pw, context=context)
    except WeakPassword as e:
        raise ValidationFailed(str(e), extra={"field": "password"}) from e


def one_time_password() -> str:
    """A generated first password: 4 groups of 5 characters, about 100 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


async def create_user(principal: Principal, db: AsyncSession, data: UserCreate) -> UserCreated:
    authorize(principal, Action.USER_CREATE)
    if data.admin_roles:
        authorize(principal, Action.USER_ASSIGN_ROLES)
        if data.kind == "guest":
            raise ValidationFailed(
                "Guests cannot hold admin roles.", extra={"field": "admin_roles"}
            )
    email = data.email.lower()
    if await db.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with the e-mail address {email} exists already.")
    generated = None
    if data.password is None:
        generated = one_time_password()
        password = generated
    else:
        password = data.password
        await _check_new_password(db, password, email, data.display_name)
    user = User(
        tenant_id=principal.tenant_id,
        email=email,
        display_name=data.display_name,
        kind=data.kind,
        admin_roles=sorted(set(data.admin_roles)),
        department=data.department,
        job_title=data.job_title,
        attributes=dict(data.attributes),
        password_hash=await runtime_of(db).hasher.hash_async(password),
        password_changed_at=now(),
        must_change_password=generated is not None,
    )
    db.add(user)
    await db.flush()
    await record(
        principal,
        db,
        "user.create",
        target_type="user",
        target_id=user.id,
        details={"email": email, "kind": data.kind, "admin_roles": user.admin_roles},
    )
    return UserCreated(user=user_public(user), one_time_password=generated)


async def list_users(principal: Principal, db: AsyncSession) -> list[UserPublic]:
    authorize(principal, Action.USER_READ)
    rows = (
        await db.scalars(select(User).where(User.status != "deleted").order_by(User.email))
    ).all()
    return [user_public(u) for u in visible_users(principal, rows)]


async def directory(principal: Principal, db: AsyncSession) -> list[DirectoryUser]:
    """The people directory as a member sees it (active accounts only)."""
    authorize(principal, Action.DIRECTORY_READ)
    rows = (
        await db.scalars(select(User).where(User.status == "active").order_by(User.email))
    ).all()
    return [DirectoryUser.model_validate(u) for u in visible_users(principal, rows)]


async def get_user(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserPublic:
    user = await _authorized_user(principal, db, user_id, Action.USER_READ)
    return user_public(user)


async def update_user(
    principal: Principal, db: AsyncSession, user_id: uuid.UUID, data: UserUpdate
) -> UserPublic:
    user = await _authorized_user(principal, db, user_id, Action.USER_UPDATE)
    changes = data.model_dump(exclude_unset=True)
    before = {k: getattr(user, k) for k in changes}
    for k, v in changes.items():
        if k == "display_name" and v is None:
            raise ValidationFailed("display_name cannot be empty", extra={"field": "display_name"})
        setattr(user, k, v)
    await record(
        principal,
        db,
        "user.update",
        target_type="user",
        target_id=user.id,
        details={"before": before, "after": changes},
    )
    return user_public(user)


async def set_roles(
    principal: Principal, db: AsyncSession, user_id: uuid.UUID, data: RolesUpdate
) -> UserPublic:
    user = await _authorized_user(principal, db, user_id, Action.USER_ASSIGN_ROLES)
    if user.kind == "guest" and data.admin_roles:
        raise ValidationFailed("Guests cannot hold admin roles.", extra={"field": "admin_roles"})
    new: list[str] = sorted(set(data.admin_roles))
    if "global_admin" in user.admin_roles and "global_admin" not in new:
        await _keep_one_global_admin(db, user.id)
    before = list(user.admin_roles)
    user.admin_roles = new
    await revoke_user_sessions(db, user.id, reason="roles changed")
    await record(
        principal,
        db,
        "user.roles",
        target_type="user",
        target_id=user.id,
        details={"before": before, "after": new},
    )
    return user_public(user)


async def _keep_one_global_admin(db: AsyncSession, leaving: uuid.UUID) -> None:
    users = (
        await db.scalars(select(User).where(User.status == "active", User.id != leaving))
    ).all()
    if not any("global_admin" in u.admin_roles for u in users):
        raise Conflict("This is the last active global admin; appoint another one first.")


async def _set_status(
    principal: Principal, db: AsyncSession, user_id: uuid.UUID, action: Action, status: str
) -> UserPublic:
    user = await _authorized_user(principal, db, user_id, action)
    if user.id == principal.user_id and status != "active":
        raise Conflict("You cannot disable or delete your own account.")
    if status != "active" and "global_admin" in user.admin_roles:
        await _keep_one_global_admin(db, user.id)
    before = user.status
    user.status = status
    user.status_changed_at = now()
    revoked = 0
    if status != "active":
        revoked = await revoke_user_sessions(db, user.id, reason=f"user {status}")
    await record(
        principal,
        db,
        action.value,
        target_type="user",
        target_id=user.id,
        details={"before": before, "after": status, "sessions_revoked": revoked},
    )
    return user_public(user)


async def disable_user(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserPublic:
    """Disable the account; its sessions stop working at once."""
    return await _set_status(principal, db, user_id, Action.USER_DISABLE, "disabled")


async def enable_user(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserPublic:
    return await _set_status(principal, db, user_id, Action.USER_ENABLE, "active")


async def delete_user(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserPublic:
    """Soft delete: the account can no longer sign in or be seen; rows stay for
    compliance until retention removes them."""
    return await _set_status(principal, db, user_id, Action.USER_DELETE, "deleted")


async def reset_mfa(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserPublic:
    """Remove the user's second factors; they enrol again at next sign-in."""
    user = await _authorized_user(principal, db, user_id, Action.USER_RESET_MFA)
    had = user.totp_enabled_at is not None
    user.totp_secret_enc = user.totp_pending_enc = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    from overleg.security.models import Passkey  # a lost device may hold a passkey too

    passkeys = await db.execute(delete(Passkey).where(Passkey.user_id == user.id))
    revoked = await revoke_user_sessions(db, user.id, reason="mfa reset")
    await record(
        principal,
        db,
        "user.reset_mfa",
        target_type="user",
        target_id=user.id,
        details={
            "had_totp": had,
            "passkeys_removed": int(passkeys.rowcount),  # type: ignore[attr-defined]
            "sessions_revoked": revoked,
        },
    )
    return user_public(user)


async def reset_password(principal: Principal, db: AsyncSession, user_id: uuid.UUID) -> UserCreated:
    """Give the user a one-time password (to be changed at next sign-in)."""
    user = await _authorized_user(principal, db, user_id, Action.USER_UPDATE)
    otp = one_time_password()
    user.password_hash = await runtime_of(db).hasher.hash_async(otp)
    user.password_changed_at = now()
    user.must_change_password = True
    revoked = await revoke_user_sessions(db, user.id, reason="password reset")
    await record(
        principal,
        db,
        "user.reset_password",
        target_type="user",
        target_id=user.id,
        details={"sessions_revoked": revoked},
    )
    return UserCreated(user=user_public(user), one_time_password=otp)


# --- groups ----------------------------------------------------------------------------


async def create_group(principal: Principal, db: AsyncSession, data: GroupCreate) -> GroupPublic:
    authorize(principal, Action.GROUP_MANAGE)
    if data.kind == "dynamic":
        if not data.rule:
            raise ValidationFailed("A dynamic group needs a rule.", extra={"field": "rule"})
        try:
            parse_rule(data.rule)
        except RuleSyntaxError as e:
            raise ValidationFailed(f"rule: {e}", extra={"field": "rule"}) from e
    elif data.rule:
        raise ValidationFailed("Only dynamic groups have a rule.", extra={"field": "rule"})
    if await db.scalar(select(Group.id).where(Group.name == data.name)):
        raise Conflict(f"A group named {data.name!r} exists already.")
    g = Group(tenant_id=principal.tenant_id, **data.model_dump())
    db.add(g)
    await db.flush()
    await record(
        principal,
        db,
        "group.create",
        target_type="group",
        target_id=g.id,
        details=data.model_dump(),
    )
    return GroupPublic.model_validate(g)


async def list_groups(principal: Principal, db: AsyncSession) -> list[GroupPublic]:
    authorize(principal, Action.GROUP_READ)
    rows = (await db.scalars(select(Group).order_by(Group.name))).all()
    return [GroupPublic.model_validate(g) for g in rows]


async def delete_group(principal: Principal, db: AsyncSession, group_id: uuid.UUID) -> None:
    authorize(principal, Action.GROUP_MANAGE)  # before loading: no existence oracle
    g = await access_group(principal, db, group_id)
    await db.execute(delete(GroupMember).where(GroupMember.group_id == g.id))
    await db.delete(g)
    await record(
        principal,
        db,
        "group.delete",
        target_type="group",
        target_id=group_id,
        details={"name": g.name},
    )


def user_attributes(u: User) -> dict[str, Any]:
    """The properties a dynamic group rule can test."""
    attrs: dict[str, Any] = {str(k).lower(): v for k, v in (u.attributes or {}).items()}
    attrs.update(
        department=u.department,
        jobtitle=u.job_title,
        mail=u.email,
        usertype=u.kind,
        displayname=u.display_name,
        accountenabled=u.status == "active",
    )
    return attrs


async def group_members(
    principal: Principal, db: AsyncSession, group_id: uuid.UUID
) -> list[UserPublic]:
    authorize(principal, Action.GROUP_READ)  # before loading: no existence oracle
    g = await access_group(principal, db, group_id)
    return [user_public(u) for u in await resolve_members(db, g)]


async def resolve_members(db: AsyncSession, g: Group) -> list[User]:
    if g.kind == "dynamic":
        assert g.rule is not None
        rule = parse_rule(g.rule)
        users = (
            await db.scalars(select(User).where(User.status != "deleted").order_by(User.email))
        ).all()
        return [u for u in users if rule.matches(user_attributes(u))]
    stmt = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == g.id, User.status != "deleted")
        .order_by(User.email)
    )
    return list((await db.scalars(stmt)).all())


async def add_group_member(
    principal: Principal, db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    authorize(principal, Action.GROUP_MANAGE)  # before loading: no existence oracle
    g = await access_group(principal, db, group_id)
    if g.kind == "dynamic":
        raise Conflict("Members of a dynamic group follow its rule; edit the rule instead.")
    user = await access_user(principal, db, user_id)
    if await db.get(GroupMember, (g.id, user.id)) is None:
        db.add(GroupMember(tenant_id=principal.tenant_id, group_id=g.id, user_id=user.id))
    await record(
        principal,
        db,
        "group.member_add",
        target_type="group",
        target_id=g.id,
        details={"user_id": str(user.id)},
    )


async def remove_group_member(
    principal: Principal, db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    authorize(principal, Action.GROUP_MANAGE)  # before loading: no existence oracle
    g = await access_group(principal, db, group_id)
    if g.kind == "dynamic":
        raise Conflict("Members of a dynamic group follow its rule; edit the rule instead.")
    await db.execute(
        delete(GroupMember).where(GroupMember.group_id == g.id, GroupMember.user_id == user_id)
    )
    await record(
        principal,
        db,
        "group.member_remove",
        target_type="group",
        target_id=g.id,
        details={"user_id": str(user_id)},
    )


async def groups_of(db: AsyncSession, user: User) -> list[uuid.UUID]:
    """Ids of every group (static or dynamic) the user belongs to; for policy targeting."""
    ids = list(
        (await db.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id))).all()
    )
    attrs = user_attributes(user)
    for g in (await db.scalars(select(Group).where(Group.kind == "dynamic"))).all():
        if g.rule and parse_rule(g.rule).matches(attrs):
            ids.append(g.id)
    return ids


async def existing_group_ids(db: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are groups of the session's tenant (for policies that target them)."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set(await db.scalars(select(Group.id).where(Group.id.in_(wanted))))


async def groups_of_user_id(db: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """``groups_of`` for an account id (none for a missing account)."""
    user = await db.get(User, user_id)
    return await groups_of(db, user) if user else []


async def self_profile(principal: Principal, db: AsyncSession) -> UserPublic:
    """The caller's own account (any session state may read it)."""
    authorize(principal, Action.SELF_READ)
    assert principal.user_id is not None
    user = await db.get(User, principal.user_id)
    assert user is not None
    return user_public(user)


# --- people, for other domains ------------------------------------------------------------


async def people(db: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DirectoryUser]:
    """The active or disabled accounts among ``ids`` in the session's tenant, by id.

    For other domains (teams, chats) that show names and check accounts; no authorization:
    callers only pass ids of people the principal already shares a conversation with.
    """
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await db.scalars(select(User).where(User.id.in_(wanted), User.status != "deleted"))
    return {u.id: DirectoryUser.model_validate(u) for u in rows}


async def person_by_email(db: AsyncSession, email: str) -> DirectoryUser | None:
    """The active account with this e-mail address in the session's tenant."""
    u = await db.scalar(
        select(User).where(User.email == email.strip().lower(), User.status == "active")
    )
    return DirectoryUser.model_validate(u) if u else None


async def active_ids(db: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are active accounts of the session's tenant."""
    wanted = set(ids)
    if not wanted:
        return set()
    rows = await db.scalars(select(User.id).where(User.id.in_(wanted), User.status == "active"))
    return set(rows)
