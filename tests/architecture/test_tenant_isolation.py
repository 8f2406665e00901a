"""Tenants never see each other's data.

(a) Through the API: every list and search endpoint, read by eve (fabrikam's global admin)
    and by olivia (contoso's), holds nothing of the other tenant (ids, e-mail addresses,
    names, domains, group and session ids) and does show the reader's own tenant; audit
    searches aimed at the other tenant's people come back empty.
(b) At the data layer: a session scoped to one tenant reads, updates and deletes only that
    tenant's rows, refuses to write rows of another, and a session opened with no scope at
    all refuses every ORM statement on tenant-owned tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from overleg.identity import service as identity
from overleg.identity.models import Group, User
from overleg.kernel.db.tenancy import TenantScopeError
from overleg.messaging import service as messaging
from overleg.messaging.schemas import ChatCreate, MessageCreate
from overleg.policy import service as policy
from overleg.security.principal import Principal
from overleg.workspace import service as workspace
from overleg.workspace.schemas import MemberAdd, TeamCreate
from tests.architecture.matrix import Stage, open_stage

ADMIN = {"contoso": "olivia", "fabrikam": "eve"}
MEMBER = {"contoso": "mia", "fabrikam": "frank"}
OTHER = {"contoso": "fabrikam", "fabrikam": "contoso"}


async def populate(st: Stage) -> None:
    """Give both tenants the same kinds of data: a policy version, a static group, and a
    dynamic group whose rule matches members of BOTH tenants."""
    for slug, admin in ADMIN.items():
        tenant = st.world.tenants[slug].id
        async with st.rt.database.transaction(tenant_id=tenant) as db:
            await policy.set_policy(st.principal(admin), db, "mfa", {"require": "admins"})
        st.notes[f"{slug}.static"] = await st.new_group(MEMBER[slug], slug=slug)
        st.notes[f"{slug}.dynamic"] = await st.new_group(
            slug=slug, rule="user.usertype -eq 'member'"
        )
        await _workspace(st, slug)
        await _recording(st, slug)
        await _files(st, slug)


async def _workspace(st: Stage, slug: str) -> None:
    """The same words in both tenants: a public team of the admin's with the member in it and
    a post in General, a public team of the member's to discover, and a 1:1 chat."""
    admin, member = ADMIN[slug], MEMBER[slug]
    tenant = st.world.tenants[slug].id

    async def as_(who: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        async with st.rt.database.transaction(tenant_id=tenant) as db:
            return await fn(st.world.principal(who), db, *args)

    team = await as_(
        admin, workspace.create_team, TeamCreate(name=f"Budget {slug}", privacy="public")
    )
    await as_(admin, workspace.add_member, team.id, MemberAdd(user_id=st.user_id(member)))
    post = await as_(
        admin,
        messaging.post_in_channel,
        team.general_channel_id,
        MessageCreate(text="the budget plan for next year"),
    )
    club = await as_(
        member, workspace.create_team, TeamCreate(name=f"Club {slug}", privacy="public")
    )
    chat = await as_(admin, messaging.create_chat, ChatCreate(members=[st.user_id(member)]))
    await as_(admin, messaging.send_in_chat, chat.id, MessageCreate(text="budget plan draft"))
    st.notes[f"{slug}.team"] = team.id
    st.notes[f"{slug}.general"] = team.general_channel_id
    st.made[slug] |= {
        str(team.id),
        str(post.id),
        str(club.id),
        str(chat.id),
        f"Budget {slug}",
        f"Club {slug}",
    }


async def _recording(st: Stage, slug: str) -> None:
    """A meeting of the admin's with the member invited, and a ready recording of it with
    its files stored."""
    from datetime import timedelta

    from overleg.kernel.clock import now
    from overleg.meetings import scheduling
    from overleg.meetings.schemas import InviteeIn, MeetingCreate
    from tests.meetings.recordings.factory import make_recording

    admin, member = st.user_id(ADMIN[slug]), st.user_id(MEMBER[slug])
    tenant = st.world.tenants[slug].id
    start, subject = now() + timedelta(hours=1), f"Budget review {slug}"
    async with st.rt.database.transaction(tenant_id=tenant) as db:
        m = await scheduling.create_meeting(
            st.world.principal(ADMIN[slug]),
            db,
            MeetingCreate(
                subject=subject,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                invitees=[InviteeIn(user_id=member)],
            ),
        )
    rec = await make_recording(
        st.rt,
        tenant,
        m.id,
        organizer_id=admin,
        started_by=admin,
        people=(("Organizer", admin), ("Invitee", member)),
        subject=subject,
    )
    # and one whose post-processing failed (the admins' processing queue)
    failed = await make_recording(
        st.rt, tenant, m.id, organizer_id=admin, started_by=admin, state="failed", subject=subject
    )
    st.notes[f"{slug}.meeting"] = m.id
    st.made[slug] |= {str(m.id), str(rec.id), str(failed.id), subject}


async def _files(st: Stage, slug: str) -> None:
    """Files in the admin's General: one scanned clean (its name and text indexed for
    search), shared with the member and with a sharing link; one quarantined (which raises
    an alert); one in the recycle bin. And a file of the member's own shared with the admin.
    The verdicts are recorded as the scan job records what the engines found."""
    from overleg.files import manage, sharing, uploads
    from overleg.files.models import FileItem
    from overleg.files.scan import _apply
    from overleg.files.scanning.pipeline import Finding, ScanResult
    from overleg.files.schemas import LinkCreate, ShareSet, UploadStart

    admin, member = st.world.principal(ADMIN[slug]), st.world.principal(MEMBER[slug])
    admin_id, member_id = st.user_id(ADMIN[slug]), st.user_id(MEMBER[slug])
    tenant = st.world.tenants[slug].id
    general = {"container_type": "channel", "container_id": st.notes[f"{slug}.general"]}
    own = {"container_type": "user", "container_id": member_id}

    async def upload(who: Principal, place: dict[str, Any], name: str, data: bytes) -> uuid.UUID:
        async def body() -> AsyncIterator[bytes]:
            yield data

        async with st.rt.database.transaction(tenant_id=tenant) as db:
            up = await uploads.start_upload(
                who, db, UploadStart(**place, name=name, size=len(data))
            )
            await uploads.put_part(who, db, up.id, 0, body())
            made = await uploads.complete_upload(who, db, up.id)
        st.made[slug] |= {str(made.id), name}
        file_id: uuid.UUID = made.id
        return file_id

    async def scanned(file_id: uuid.UUID, *findings: Finding, text: str = "") -> None:
        result = ScanResult(
            "infected" if findings else "clean", list(findings), {}, "test", deep=True
        )
        async with st.rt.database.transaction(tenant_id=tenant) as db:
            f = await db.get(FileItem, file_id)
            assert f is not None and f.current_version_id is not None
            await _apply(db, tenant, f.current_version_id, result, rescan=False, text=text)

    plan = b"the budget plan for next year"
    clean = await upload(admin, general, f"Budget plan {slug}.txt", plan)
    await scanned(clean, text=plan.decode())
    bad = await upload(admin, general, f"Invoice {slug}.txt", b"pay now")
    await scanned(bad, Finding("clamav", "Example.Test", "-"))
    old = await upload(admin, general, f"Old budget {slug}.txt", plan)
    theirs = await upload(member, own, f"Notes {slug}.txt", plan)
    await scanned(theirs)
    async with st.rt.database.transaction(tenant_id=tenant) as db:
        await sharing.share_file(admin, db, clean, member_id, ShareSet(role="view"))
        link = await sharing.create_link(admin, db, clean, LinkCreate())
        await manage.delete_file(admin, db, old)
        await sharing.share_file(member, db, theirs, admin_id, ShareSet(role="view"))
    st.notes[f"{slug}.file"] = clean
    st.made[slug].add(str(link.id))


@pytest.fixture(scope="module")
async def stage(stage_db: tuple[str, Path]) -> AsyncIterator[Stage]:
    async with open_stage(stage_db, populate) as st:
        yield st


# --- (a) through every list and search endpoint -----------------------------------------------

Where = Callable[[Stage, str], str]  # (stage, slug of the reader's tenant) -> path

LISTS: dict[str, Where] = {
    "users": lambda st, t: "/api/admin/users",
    "a member's sessions": lambda st, t: f"/api/admin/users/{st.user_id(MEMBER[t])}/sessions",
    "groups": lambda st, t: "/api/admin/groups",
    "static group members": lambda st, t: f"/api/admin/groups/{st.notes[t + '.static']}/members",
    "dynamic group members": lambda st, t: f"/api/admin/groups/{st.notes[t + '.dynamic']}/members",
    "domains": lambda st, t: "/api/admin/domains",
    "tenant": lambda st, t: "/api/admin/tenant",
    "policy": lambda st, t: "/api/admin/policies/mfa",
    "policy history": lambda st, t: "/api/admin/policies/mfa/history",
    "audit search": lambda st, t: "/api/admin/audit?limit=1000",
    "audit search by action": lambda st, t: "/api/admin/audit?action=user.&limit=1000",
    "audit export": lambda st, t: "/api/admin/audit/export",
    "directory": lambda st, t: "/api/v1/directory",
    "my sessions": lambda st, t: "/api/v1/me/sessions",
    "my teams": lambda st, t: "/api/v1/teams",
    "public teams to join": lambda st, t: "/api/v1/teams/discover",
    "team members": lambda st, t: f"/api/v1/teams/{st.notes[t + '.team']}/members",
    "team channels": lambda st, t: f"/api/v1/teams/{st.notes[t + '.team']}/channels",
    "channel posts": lambda st, t: f"/api/v1/channels/{st.notes[t + '.general']}/messages",
    "my chats": lambda st, t: "/api/v1/chats",
    "message search": lambda st, t: "/api/v1/search/messages?q=budget+plan",
    "meeting recordings": lambda st, t: f"/api/v1/meetings/{st.notes[t + '.meeting']}/recordings",
    "recordings being processed": lambda st, t: "/api/admin/recordings",
    "channel files": lambda st, t: (
        f"/api/v1/files?container_type=channel&container_id={st.notes[t + '.general']}"
    ),
    "recycle bin": lambda st, t: (
        f"/api/v1/files/deleted?container_type=channel&container_id={st.notes[t + '.general']}"
    ),
    "files shared with me": lambda st, t: "/api/v1/files/shared",
    "file versions": lambda st, t: f"/api/v1/files/{st.notes[t + '.file']}/versions",
    "file shares": lambda st, t: f"/api/v1/files/{st.notes[t + '.file']}/shares",
    "file links": lambda st, t: f"/api/v1/files/{st.notes[t + '.file']}/links",
    "file search": lambda st, t: "/api/v1/search/files?q=budget+plan",
    "quarantine": lambda st, t: "/api/admin/quarantine",
    "alerts": lambda st, t: "/api/admin/alerts",
    "alerts of a kind": lambda st, t: "/api/admin/alerts?kind=file.infected",
}

#: audit searches aimed at the other tenant: they must find nothing at all
AIMED: dict[str, Where] = {
    "audit by the other admin's e-mail": lambda st, t: (
        f"/api/admin/audit?actor={st.world.users[ADMIN[OTHER[t]]].email}"
    ),
    "audit by the other admin's id": lambda st, t: (
        f"/api/admin/audit?actor={st.user_id(ADMIN[OTHER[t]])}"
    ),
    "audit on the other member": lambda st, t: (
        f"/api/admin/audit?target={st.user_id(MEMBER[OTHER[t]])}"
    ),
    "export by the other admin": lambda st, t: (
        f"/api/admin/audit/export?actor={st.world.users[ADMIN[OTHER[t]]].email}"
    ),
}


def _markers(st: Stage, slug: str) -> frozenset[str]:
    return frozenset(
        st.markers(slug) | {str(st.notes[f"{slug}.{k}"]) for k in ("static", "dynamic")}
    )


@pytest.mark.parametrize("name", list(LISTS))
async def test_lists_show_only_the_readers_tenant(stage: Stage, name: str) -> None:
    await stage.reset()
    for reader in ("fabrikam", "contoso"):
        who = ADMIN[reader]
        path = LISTS[name](stage, reader)
        resp = await stage.call(who, "GET", path)
        assert resp.status_code == 200, f"{path} as {who}: {resp.status_code} {resp.text}"
        other = OTHER[reader]
        leaked = stage.leaks(resp.text, other)
        assert not leaked, f"{path} as {who} shows {other}'s data: {leaked}"
        own = stage.leaks(resp.text, reader)
        assert own, f"{path} as {who} shows nothing of {reader}: {resp.text[:300]}"


@pytest.mark.parametrize("name", list(AIMED))
async def test_audit_searches_aimed_at_the_other_tenant_find_nothing(
    stage: Stage, name: str
) -> None:
    await stage.reset()
    for reader in ("fabrikam", "contoso"):
        who = ADMIN[reader]
        path = AIMED[name](stage, reader)
        resp = await stage.call(who, "GET", path)
        assert resp.status_code == 200, f"{path} as {who}: {resp.status_code} {resp.text}"
        if "export" in path:
            assert resp.text == "", f"{path} as {who} exported {resp.text[:300]}"
        else:
            assert resp.json()["records"] == [], f"{path} as {who} found {resp.text[:300]}"


async def test_dynamic_group_rules_match_only_the_groups_tenant(stage: Stage) -> None:
    """Both dynamic groups match every member; each resolves to its own tenant's only."""
    await stage.reset()
    for slug, admin in ADMIN.items():
        resp = await stage.call(admin, "GET", LISTS["dynamic group members"](stage, slug))
        members = {u["email"] for u in resp.json()}
        tenant = stage.world.tenants[slug].id
        expected = {
            u.email
            for u in stage.world.users.values()
            if u.tenant_id == tenant and u.kind == "member"
        }
        assert members >= expected and all(m.endswith(f"@{slug}.example") for m in members)


# --- (b) at the data layer --------------------------------------------------------------------


def _ids(st: Stage, slug: str) -> set[uuid.UUID]:
    tenant = st.world.tenants[slug].id
    return {u.id for u in st.world.users.values() if u.tenant_id == tenant}


async def test_scoped_session_selects_only_its_tenants_rows(stage: Stage) -> None:
    await stage.reset()
    fabrikam = stage.world.tenants["fabrikam"].id
    async with stage.rt.database.transaction(tenant_id=fabrikam) as db:
        users = set((await db.scalars(select(User.id))).all())
        count = await db.scalar(select(func.count()).select_from(User))
        by_email = await db.scalar(select(User).where(User.email == "mia@contoso.example"))
        direct = await db.get(User, stage.user_id("mia"))
    assert users == _ids(stage, "fabrikam")
    assert count == len(users)
    assert by_email is None
    assert direct is None


async def test_scoped_update_and_delete_touch_no_other_tenants_rows(stage: Stage) -> None:
    await stage.reset()
    fabrikam = stage.world.tenants["fabrikam"].id
    contoso = stage.world.tenants["contoso"].id
    mia = stage.user_id("mia")
    async with stage.rt.database.transaction(tenant_id=fabrikam) as db:
        everyone = await db.execute(update(User).values(job_title="Renamed"))
        aimed = await db.execute(update(User).where(User.id == mia).values(job_title="Renamed"))
        gone = await db.execute(delete(Group).where(Group.id == stage.notes["contoso.static"]))
    assert everyone.rowcount == len(_ids(stage, "fabrikam"))  # type: ignore[attr-defined]
    assert aimed.rowcount == 0  # type: ignore[attr-defined]
    assert gone.rowcount == 0  # type: ignore[attr-defined]
    async with stage.rt.database.transaction(tenant_id=contoso) as db:
        titles = set((await db.scalars(select(User.job_title))).all())
        group = await db.get(Group, stage.notes["contoso.static"])
    assert "Renamed" not in titles
    assert group is not None


async def test_scoped_session_refuses_to_write_another_tenants_rows(stage: Stage) -> None:
    await stage.reset()
    fabrikam = stage.world.tenants["fabrikam"].id
    contoso = stage.world.tenants["contoso"].id
    async with stage.rt.database.session(tenant_id=fabrikam) as db:
        db.add(Group(tenant_id=contoso, name="Planted", description="", kind="static"))
        with pytest.raises(TenantScopeError):
            await db.flush()
        await db.rollback()
        eve = await db.get(User, stage.user_id("eve"))
        assert eve is not None
        eve.tenant_id = contoso  # moving a row into another tenant is a write there too
        with pytest.raises(TenantScopeError):
            await db.flush()
        await db.rollback()
    async with stage.rt.database.transaction(tenant_id=contoso) as db:
        planted = await db.scalar(select(Group).where(Group.name == "Planted"))
        moved = await db.get(User, stage.user_id("eve"))
    assert planted is None and moved is None


async def test_session_without_scope_refuses_tenant_owned_tables(stage: Stage) -> None:
    await stage.reset()
    async with stage.rt.database._factory() as db:
        with pytest.raises(TenantScopeError):
            await db.execute(select(User))
        with pytest.raises(TenantScopeError):
            await db.get(User, stage.user_id("mia"))
        with pytest.raises(TenantScopeError):
            await db.execute(update(User).values(job_title="x"))
        with pytest.raises(TenantScopeError):
            await db.execute(delete(Group))
        await db.rollback()
        db.add(Group(tenant_id=stage.world.tenants["contoso"].id, name="Orphan", kind="static"))
        with pytest.raises(TenantScopeError):
            await db.flush()
        await db.rollback()


async def test_identity_services_on_a_scoped_session_see_one_tenant(stage: Stage) -> None:
    """The same at service level: eve's list_users gives fabrikam's people only, although
    the service itself never filters by tenant."""
    await stage.reset()
    fabrikam = stage.world.tenants["fabrikam"].id
    async with stage.rt.database.transaction(tenant_id=fabrikam) as db:
        users = await identity.list_users(stage.principal("eve"), db)
    assert {u.id for u in users} == _ids(stage, "fabrikam")
