"""Every change is audited, and so is every refused attempt.

Through the API: each mutating row of the role matrix is sent by one principal for each
status the matrix expects there, by eve (another tenant, another chain) and, on admin routes,
by olivia with a stale second factor. A 2xx answer must have added a ``success`` record by
the caller to the caller's tenant chain; a refusal by the decision point (403, 401
``mfa-required``) or a "not yours" 404 must have added a ``denied`` record and nothing else
by the caller, although the request's own transaction was rolled back. The same holds for the
second-factor check of the sign-in service (``FACTOR_ROUTES``).

At service level: every public function of the identity, policy, sign-in and session
services that changes state is called once with valid arguments (``SERVICE_CALLS``) and must
leave its audit record. A new public function must be classified here (audited change, read,
or building block) or ``test_every_service_function_is_classified`` fails.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import httpx
import pytest

from overleg.audit.chain import SYSTEM_TENANT
from overleg.identity import service as identity
from overleg.identity.models import User
from overleg.identity.schemas import (
    DomainCreate,
    GroupCreate,
    RolesUpdate,
    TenantCreate,
    UserCreate,
    UserUpdate,
)
from overleg.kernel.clock import now
from overleg.policy import service as policy
from overleg.security import sessions
from overleg.security.authn import service as authn
from overleg.security.authn import totp
from overleg.security.principal import anonymous
from tests.architecture.matrix import (
    CAST,
    MATRIX,
    MUTATING,
    NEW_PASSWORD,
    STALE,
    Row,
    Stage,
    problem_type,
)
from tests.fixtures.world import OPERATOR, PASSWORD


def refusal(resp: httpx.Response) -> bool:
    """Refused by the decision point, or "not found" for something that is not the caller's."""
    kind = problem_type(resp)
    return (resp.status_code, kind) in {(403, "forbidden"), (404, "not-found")} or (
        resp.status_code == 401 and kind == "mfa-required"
    )


# --- through the API -------------------------------------------------------------------------

#: POST routes that compute something and change nothing (so there is nothing to audit)
CHANGE_NOTHING = frozenset({("POST", "/api/v1/messages/preview")})
MUTATING_ROWS = [
    r for r in MATRIX if r.method in MUTATING and (r.method, r.path) not in CHANGE_NOTHING
]


def callers(row: Row, stage: Stage) -> list[tuple[str, str, dict[str, str] | None]]:
    """(label, principal, headers): for each status the matrix expects (201, 403, 404, ...)
    the first contoso principal who gets it, eve (whose records go to fabrikam's chain), and
    on admin routes olivia with a stale second factor (401 mfa-required)."""
    chosen: dict[int, str] = {}
    for who in CAST:
        if who != "eve":
            chosen.setdefault(row.expect[who], who)
    out: list[tuple[str, str, dict[str, str] | None]] = [
        (w, w, None) for w in (*chosen.values(), "eve")
    ]
    if row.is_admin_route:
        out.append((STALE, "olivia", stage.stale_headers))
    return out


@pytest.mark.parametrize("row", MUTATING_ROWS, ids=lambda r: r.id)
async def test_changes_and_refusals_are_audited(stage: Stage, row: Row) -> None:
    await stage.reset()
    heads = {t: await stage.audit_head(t) for t in {stage.tenant_id(w) for w in CAST}}
    wrong: list[str] = []
    succeeded = refused = 0
    for label, who, headers in callers(row, stage):
        req = row.ask(stage, label)
        tenant = stage.tenant_id(who)
        resp = await stage.send(row, who, req, headers=headers)
        new = await stage.audit_since(tenant, heads[tenant])
        heads[tenant] = max([heads[tenant], *(r.seq for r in new)])
        outcomes = sorted({r.outcome for r in new if r.actor_id == stage.user_id(who)})
        where = f"{row.id} as {label} ({resp.status_code})"
        if resp.is_success:
            succeeded += 1
            if "success" not in outcomes:
                wrong.append(f"{where}: changed something but audited {outcomes}")
        elif refusal(resp):
            refused += 1
            if outcomes != ["denied"]:
                wrong.append(f"{where}: refused, expected 'denied' records only, got {outcomes}")
    assert not wrong, "\n".join(wrong)
    if any(200 <= row.expect[w] < 300 for w in CAST):
        assert succeeded, f"{row.id}: nobody succeeded; the row does not exercise the change"
    if row.is_admin_route or any(row.expect[w] in (403, 404) for w in CAST):
        assert refused, f"{row.id}: nobody was refused"


FACTOR_ROUTES = [
    ("POST", "/api/v1/me/mfa/totp"),
    ("DELETE", "/api/v1/me/mfa/totp"),
    ("POST", "/api/v1/me/mfa/recovery-codes"),
]


async def test_refusing_a_factor_change_for_a_stale_second_factor_is_audited(
    stage: Stage,
) -> None:
    """Changing one's own second factor needs a fresh one too (authn, not the PDP). That
    refusal is a denied attempt like any other and must be on record."""
    await stage.reset()
    tenant = stage.tenant_id("olivia")
    wrong: list[str] = []
    for method, path in FACTOR_ROUTES:
        head = await stage.audit_head(tenant)
        resp = await stage.call("olivia", method, path, headers=stage.stale_headers)
        assert (resp.status_code, problem_type(resp)) == (401, "mfa-required"), resp.text
        records = await stage.audit_since(tenant, head)
        if not any(
            r.outcome == "denied" and r.actor_id == stage.user_id("olivia") for r in records
        ):
            wrong.append(f"{method} {path}: refused with 401 mfa-required but nothing audited")
    assert not wrong, "\n".join(wrong)


# --- at service level ------------------------------------------------------------------------


async def a_member(st: Stage) -> uuid.UUID:
    """A fresh contoso member."""
    return await st.new_member()


async def a_group(st: Stage) -> uuid.UUID:
    """A fresh contoso group with mia in it."""
    return await st.new_group("mia")


async def a_published_domain(st: Stage) -> str:
    return await st.new_domain()


async def mias_code(st: Stage) -> str:
    return st.code("mia")


async def mias_other_session(st: Stage) -> uuid.UUID:
    return st.other_session["mia"]


async def sam(st: Stage) -> uuid.UUID:
    return st.user_id("sam")


async def mia(st: Stage) -> uuid.UUID:
    return st.user_id("mia")


@dataclass(frozen=True)
class Call:
    """``fn(principal of who, db, *args, **kwargs)`` in one committed transaction of who's
    tenant; must leave a ``success`` record ``action`` by ``who`` in ``chain``. Arguments that
    are async functions of the stage are set up (awaited) before the transaction."""

    fn: Callable[..., Awaitable[Any]]
    action: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    who: str = "olivia"
    run: Callable[[Stage], Awaitable[None]] | None = None
    chain: str = "contoso"  # or "system"

    @property
    def id(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__name__}"

    async def __call__(self, st: Stage) -> None:
        if self.run is not None:
            await self.run(st)
            return

        async def value(a: Any) -> Any:
            return await a(st) if inspect.iscoroutinefunction(a) else a

        args = [await value(a) for a in self.args]
        kwargs = {k: await value(v) for k, v in self.kwargs.items()}
        async with st.rt.database.transaction(tenant_id=st.tenant_id(self.who)) as db:
            await self.fn(st.principal(self.who), db, *args, **kwargs)


async def _create_tenant(st: Stage) -> None:
    async with st.rt.database.transaction(unscoped=True) as db:
        await identity.create_tenant(OPERATOR, db, TenantCreate(name="Northwind", slug="northwind"))


async def _sign_in(st: Stage) -> None:
    anon = anonymous("203.0.113.10", "pytest", "test")
    async with st.rt.database.transaction(unscoped=True) as db:
        out = await authn.sign_in(
            anon, db, email="mia@contoso.example", password=PASSWORD, tenant=None
        )
    assert out.status == "mfa_required"


async def _verify_mfa(st: Stage) -> None:
    pending = await st._session_id(await st.pending_session("mia"))
    async with st.rt.database.transaction(tenant_id=st.tenant_id("mia")) as db:
        p = replace(st.principal("mia"), session_id=pending)
        out = await authn.verify_mfa(p, db, code=st.code("mia"), recovery_code=None)
    assert out.status == "signed_in"


async def _verify_mfa_for_step_up(st: Stage) -> None:
    async with st.rt.database.transaction(tenant_id=st.tenant_id("mia")) as db:
        user = await db.get(User, st.user_id("mia"))
        assert user is not None
        p = st.principal("mia")
        out = await authn.verify_mfa_for_step_up(p, db, user, st.code("mia"), None)
    assert out.status == "signed_in"


async def _activate_totp(st: Stage) -> None:
    async with st.rt.database.transaction(tenant_id=st.tenant_id("mia")) as db:
        begun = await authn.begin_totp(st.principal("mia"), db)
        await authn.activate_totp(st.principal("mia"), db, totp.code_at(begun.secret, now()))


SERVICE_CALLS: list[Call] = [
    # identity: the organisation
    Call(
        identity.create_tenant, "tenant.create", who="operator", chain="system", run=_create_tenant
    ),
    Call(identity.add_domain, "domain.add", (DomainCreate(domain="new.contoso.example"),)),
    Call(identity.verify_domain, "domain.verify", (a_published_domain,)),
    Call(identity.mark_domain_verified, "domain.verify", ("contoso.example",)),
    # identity: users
    Call(
        identity.create_user,
        "user.create",
        (UserCreate(email="new@contoso.example", display_name="New"),),
    ),
    Call(identity.update_user, "user.update", (a_member, UserUpdate(job_title="Analyst"))),
    Call(identity.set_roles, "user.roles", (a_member, RolesUpdate(admin_roles=["user_admin"]))),
    Call(identity.disable_user, "user.disable", (a_member,)),
    Call(identity.enable_user, "user.enable", (a_member,)),
    Call(identity.delete_user, "user.delete", (a_member,)),
    Call(identity.reset_mfa, "user.reset_mfa", (a_member,)),
    Call(identity.reset_password, "user.reset_password", (a_member,)),
    # identity: groups
    Call(identity.create_group, "group.create", (GroupCreate(name="Auditors"),)),
    Call(identity.delete_group, "group.delete", (a_group,)),
    Call(identity.add_group_member, "group.member_add", (a_group, sam)),
    Call(identity.remove_group_member, "group.member_remove", (a_group, mia)),
    # policy
    Call(policy.set_policy, "policy.update", ("mfa", {"require": "all"})),
    # sign-in, second factor, password (mia has an authenticator on the stage)
    Call(authn.sign_in, "auth.sign_in", who="mia", run=_sign_in),
    Call(authn.verify_mfa, "auth.mfa", who="mia", run=_verify_mfa),
    Call(
        authn.step_up, "auth.step_up", who="mia", kwargs={"code": mias_code, "recovery_code": None}
    ),
    Call(authn.verify_mfa_for_step_up, "auth.step_up", who="mia", run=_verify_mfa_for_step_up),
    Call(authn.begin_totp, "mfa.totp_begin", who="mia"),
    Call(authn.activate_totp, "mfa.totp_activate", who="mia", run=_activate_totp),
    Call(authn.regenerate_recovery_codes, "mfa.recovery_codes", who="mia"),
    Call(authn.remove_totp, "mfa.totp_remove", who="mia"),
    Call(
        authn.change_password,
        "user.password_change",
        who="mia",
        kwargs={"current": PASSWORD, "new": NEW_PASSWORD},
    ),
    Call(authn.sign_out, "auth.sign_out", who="mia"),
    # sessions
    Call(sessions.revoke_my_session, "session.revoke", (mias_other_session,), who="mia"),
    Call(sessions.revoke_other_sessions, "session.revoke_others", who="mia"),
    Call(sessions.admin_revoke_session, "session.revoke_any", (mias_other_session,)),
]

#: public functions that only read (no audit record needed)
READS: set[Callable[..., Any]] = {
    identity.list_tenants,
    identity.find_tenant,
    identity.get_tenant,
    identity.list_domains,
    identity.list_users,
    identity.directory,
    identity.get_user,
    identity.list_groups,
    identity.group_members,
    identity.resolve_members,
    identity.groups_of,
    identity.groups_of_user_id,
    identity.existing_group_ids,
    identity.self_profile,
    identity.user_public,
    identity.user_attributes,
    identity.one_time_password,
    identity.people,
    identity.person_by_email,
    identity.active_ids,
    identity.active_tenants,
    policy.effective,
    policy.get_policy,
    policy.history,
    policy.policy_schema,
    authn.mfa_required_for,
    sessions.my_sessions,
    sessions.user_sessions,
    sessions.live_sessions,
}

#: building blocks without a principal: the use cases that call them write the record
BUILDING_BLOCKS: dict[Callable[..., Any], str] = {
    sessions.start_session: "sign_in / verify_mfa audit the session they start",
    sessions.rotate_token: "verify_mfa audits the sign-in it completes",
    sessions.revoke_user_sessions: "set_roles, disable_user, reset_mfa, ... audit the revocation",
    sessions.authenticate: "resolves a token per request; idle/expired sessions end on sight",
}

SERVICE_MODULES: list[ModuleType] = [identity, policy, authn, sessions]


def test_every_service_function_is_classified() -> None:
    audited = {c.fn for c in SERVICE_CALLS}
    unclassified = []
    for module in SERVICE_MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__:
                continue
            if fn not in audited and fn not in READS and fn not in BUILDING_BLOCKS:
                unclassified.append(f"{module.__name__}.{name}")
    assert not unclassified, (
        f"classify these in tests/architecture/test_audit_on_mutation.py: {unclassified}"
    )
    both = audited & (READS | BUILDING_BLOCKS.keys())
    assert not both, f"classified twice: {both}"


@pytest.mark.parametrize("call", SERVICE_CALLS, ids=lambda c: c.id)
async def test_service_function_writes_its_audit_record(stage: Stage, call: Call) -> None:
    await stage.reset()
    chain = SYSTEM_TENANT if call.chain == "system" else stage.world.tenants[call.chain].id
    label = OPERATOR.label if call.who == "operator" else stage.world.users[call.who].email
    head = await stage.audit_head(chain)
    await call(stage)
    records = await stage.audit_since(chain, head)
    found = [(r.action, r.outcome) for r in records if r.actor_label == label]
    assert (call.action, "success") in found, (
        f"{call.id} changed state as {label} but left {found or 'no record'} "
        f"in the {call.chain} chain"
    )
