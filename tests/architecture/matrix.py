# ruff: noqa: E501  (the matrix is a table; its rows are wider than code lines)
"""The role matrix: every authenticated route, every kind of caller, the expected status.

``MATRIX`` is the one table the architecture tests share. A row names a route exactly as
``app.routes`` spells it, the request to send (``Ask``: path parameters filled with real ids
from the world, a body, sometimes a session of its own) and the status each principal must
get. The rules behind the numbers live in ``overleg.security.authz.roles``:

- global admin (olivia): everything in her tenant, with a fresh second factor;
- security admin (sid): sessions, policy, audit; no user changes, no content;
- compliance admin (cora): reads users, groups, policy and audit; changes nothing;
- user admin (uma): users, groups, sessions; no roles, no domains, no policy, no audit; and,
  like every admin who is not a global admin, nothing on an admin's account;
- members (mia) and guests (gus) only reach their own account; a guest does not even see
  the directory, and other people's accounts are "not found" for him;
- eve is fabrikam's global admin sending contoso's ids: wherever a route loads something by
  id she gets 404, exactly what a missing id gets; list routes answer her with fabrikam's
  data only (checked for every 2xx answer she gets).

A ``Stage`` is the named cast (tests/fixtures/world.py) built once per backend and test
module, with a live session and an authenticator for every principal, and a snapshot of the
whole database: ``reset()`` puts every row of the tables written since back as it was, so each
test item starts on a fresh world for a few milliseconds instead of rebuilding it.
"""

from __future__ import annotations

import itertools
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, event, func, select

from overleg.audit.chain import SYSTEM_TENANT
from overleg.audit.models import AuditRecord
from overleg.bootstrap import build_runtime
from overleg.identity import service as identity
from overleg.identity.models import User
from overleg.identity.schemas import DomainCreate, GroupCreate, UserCreate
from overleg.kernel.clock import now
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.meetings.rules import LobbyBypass, WhoCanPresent
from overleg.messaging import service as messaging
from overleg.messaging.schemas import ChatCreate, MessageCreate
from overleg.migrations.models import metadata
from overleg.security.authn import totp
from overleg.security.authn.tokens import hash_token
from overleg.security.models import UserSession
from overleg.security.principal import Principal
from overleg.security.sessions import MFA_PENDING, start_session
from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate, MemberAdd, TeamCreate
from tests.conftest import _truncate_all
from tests.conftest import test_settings as settings_for_test
from tests.fixtures.dns_server import txt_server
from tests.fixtures.webauthn import give_passkey
from tests.fixtures.world import PASSWORD, World, build_world

#: the columns of the matrix, in order
WHO = ("anonymous", "gus", "mia", "olivia", "sid", "cora", "uma", "eve")
CAST = WHO[1:]
#: olivia with a session whose second factor is not fresh (asks get their own targets for her)
STALE = "olivia (stale MFA)"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NEW_PASSWORD = "quartz lantern meadow 5526"
PROBLEM = "application/problem+json"

#: what ``Stage.reset`` needs to know about the schema: table names, and which tables each
#: one points at (rows pointing at a restored table are deleted with it, so restored too)
_TABLES = {t.name for t in metadata.sorted_tables}
_PARENTS = {t.name: {fk.column.table.name for fk in t.foreign_keys} for t in metadata.sorted_tables}
_ALL = "*"
_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|WITH|TRUNCATE)\b", re.IGNORECASE)
_DML_TABLE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?\s', re.IGNORECASE)


def problem_type(resp: httpx.Response) -> str:
    """The last part of a problem+json ``type`` ("" for other answers)."""
    if not resp.headers.get("content-type", "").startswith(PROBLEM):
        return ""
    return str(resp.json().get("type", "")).rsplit("/", 1)[-1]


# --- the stage ------------------------------------------------------------------------------


@dataclass
class Req:
    """What one principal sends: path parameters, a JSON body, and (rarely) own headers."""

    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None
    content: bytes | None = None  # a raw body (upload parts)

    def ids(self) -> frozenset[str]:
        """The ids (and domain names) in the path."""
        return frozenset(v for k, v in self.params.items() if _UUID.match(v) or k == "domain")


@dataclass
class Stage:
    rt: Runtime
    world: World
    client: httpx.AsyncClient
    dns_records: dict[str, list[str]]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    session_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    #: olivia's session whose second factor is not fresh (``mfa=False``)
    stale_headers: dict[str, str] = field(default_factory=dict)
    #: a second live session of mia and of olivia (targets for the session routes)
    other_session: dict[str, uuid.UUID] = field(default_factory=dict)
    totp_secrets: dict[str, str] = field(default_factory=dict)
    #: a passkey of mia's (for the host "testserver", which the stage's client calls)
    mias_passkey: uuid.UUID | None = None
    #: per principal (``prepare_targets``): things a request may change or destroy, so that
    #: one principal's success never changes what the next one is answered
    target_member: dict[str, uuid.UUID] = field(default_factory=dict)
    target_group: dict[str, uuid.UUID] = field(default_factory=dict)
    target_domain: dict[str, str] = field(default_factory=dict)
    #: per principal (``prepare_workspace``): a team, its channels, posts and a chat
    ws: dict[str, dict[str, uuid.UUID]] = field(default_factory=dict)
    #: per principal (``prepare_meetings``): meetings in progress, a dial-in gateway
    mt: dict[str, dict[str, uuid.UUID]] = field(default_factory=dict)
    #: per principal (``new_alert``): an open contoso alert
    alerts: dict[str, uuid.UUID] = field(default_factory=dict)
    #: per principal (``new_files``): files and uploads of mia in the "Ops" channel
    fl: dict[str, dict[str, uuid.UUID]] = field(default_factory=dict)
    pending_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    pending_secret: dict[str, str] = field(default_factory=dict)
    #: whatever a test module's ``populate`` wants to remember
    notes: dict[str, Any] = field(default_factory=dict)
    #: ids and names of the things ``new_*`` made, per tenant slug (for leak checks)
    made: dict[str, set[str]] = field(default_factory=lambda: {"contoso": set(), "fabrikam": set()})
    _snapshot: list[tuple[Table, list[dict[str, Any]]]] = field(default_factory=list)
    _dirty: set[str] = field(default_factory=set)
    _resetting: bool = False
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- building and resetting --------------------------------------------------------

    async def _prepare(self) -> None:
        for who in CAST:
            self.headers[who] = await self.world.session_headers(who)
            self.session_ids[who] = await self._session_id(self.headers[who])
            self.totp_secrets[who] = await self.world.enrol_totp(who)
        self.headers["anonymous"] = {}
        self.stale_headers = await self.world.session_headers("olivia", mfa=False)
        for who in ("mia", "olivia", "frank"):
            self.other_session[who] = await self._session_id(await self.world.session_headers(who))
        self.mias_passkey, _ = await give_passkey(
            self.rt, self.tenant_id("mia"), self.user_id("mia")
        )

    async def prepare_targets(self) -> None:
        """For every principal: a contoso member, a contoso group with mia in it, a contoso
        domain whose TXT record is published, a session of their own waiting for the second
        factor, and an authenticator enrolment that was started (its secret)."""
        for who in (*WHO, STALE):
            self.target_member[who] = await self.new_member()
            self.target_group[who] = await self.new_group("mia")
            self.target_domain[who] = await self.new_domain()
            self.ws[who] = await self.new_workspace()
            self.mt[who] = await self.new_meetings()
            self.alerts[who] = await self.new_alert()
            self.fl[who] = await self.new_files(self.ws[who]["ops"])
            if who not in CAST:
                continue
            self.pending_headers[who] = await self.pending_session(who)
            self.pending_secret[who] = await self._begin_enrolment(who)

    async def _begin_enrolment(self, who: str) -> str:
        """What POST /api/v1/me/mfa/totp leaves behind (a pending secret), without drawing
        its QR codes; returns the secret."""
        secret = totp.new_secret()
        tenant_id, user_id = self.tenant_id(who), self.user_id(who)
        # the associated data the sign-in service seals TOTP secrets with (as world.enrol_totp)
        async with self.rt.database.transaction(tenant_id=tenant_id) as db:
            user = await db.get(User, user_id)
            assert user is not None
            aad = f"totp:{tenant_id}:{user_id}".encode()
            user.totp_pending_enc = await self.rt.keys.encrypt(db, tenant_id, secret.encode(), aad)
        return secret

    async def _session_id(self, headers: dict[str, str]) -> uuid.UUID:
        token = headers["Authorization"].removeprefix("Bearer ")
        async with self.rt.database.transaction(unscoped=True) as db:
            found = await db.scalar(
                select(UserSession.id).where(UserSession.token_hash == hash_token(token))
            )
        assert found is not None
        return found

    async def snapshot(self) -> None:
        """Remember every row of every table (call when the world is ready), and from now on
        note which tables are written, so that ``reset`` puts back only those."""
        self._snapshot = []
        async with self.rt.database.engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = (await conn.execute(table.select())).mappings().all()
                self._snapshot.append((table, [dict(r) for r in rows]))
        event.listen(self.rt.database.engine.sync_engine, "before_cursor_execute", self._written)
        self._dirty.clear()

    def _written(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self._resetting or not _DML.match(statement):
            return
        found = _DML_TABLE.match(statement)
        self._dirty.add(found[1] if found and found[1] in _TABLES else _ALL)

    async def reset(self) -> None:
        """Put the database back as it was at ``snapshot()``: a fresh world. Sessions are
        as fresh as then too (second factors given now, not at snapshot time), so that a slow
        run cannot age them past the step-up window."""
        restore = set(_TABLES) if _ALL in self._dirty else self._dirty
        while True:  # and every table whose rows point at one of them (cascades)
            more = {t for t, parents in _PARENTS.items() if parents & restore} - restore
            if not more:
                break
            restore |= more
        t = now()
        sessions = UserSession.__table__
        self._resetting = True
        try:
            async with self.rt.database.engine.begin() as conn:
                for table, _ in reversed(self._snapshot):
                    if table.name in restore:
                        await conn.execute(table.delete())
                for table, rows in self._snapshot:
                    if table.name in restore and rows:
                        await conn.execute(table.insert(), rows)
                await conn.execute(sessions.update().values(last_seen_at=t))
                await conn.execute(
                    sessions.update().where(sessions.c.mfa_at.is_not(None)).values(mfa_at=t)
                )
        finally:
            self._resetting = False
        self._dirty = set()

    # -- who is who ----------------------------------------------------------------------

    def user_id(self, who: str) -> uuid.UUID:
        return self.world.id(who)

    def tenant_id(self, who: str) -> uuid.UUID:
        """The tenant whose chain records what ``who`` does (anonymous: the system chain)."""
        return SYSTEM_TENANT if who == "anonymous" else self.world.tenant_of(who)

    def domain_of(self, who: str) -> str:
        return "fabrikam.example" if who in ("eve", "frank") else "contoso.example"

    def principal(self, who: str) -> Principal:
        """``who`` as a service sees them after sign-in, with their live session."""
        return replace(self.world.principal(who), session_id=self.session_ids[who])

    def code(self, who: str) -> str:
        """The current authenticator code of ``who``."""
        return totp.code_at(self.totp_secrets[who], now())

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq)}"

    def markers(self, slug: str) -> set[str]:
        """Strings that only data of tenant ``slug`` contains (compared case-insensitively)."""
        tenant = self.world.tenants[slug]
        out = {slug, str(tenant.id), *self.made[slug]}
        for name, user in self.world.users.items():
            if user.tenant_id == tenant.id:
                out |= {str(user.id), user.email}
                if name in self.session_ids:
                    out.add(str(self.session_ids[name]))
                if name in self.other_session:
                    out.add(str(self.other_session[name]))
        return out

    def leaks(self, text: str, slug: str, extra: frozenset[str] = frozenset()) -> list[str]:
        """The markers of tenant ``slug`` (and ``extra``) that ``text`` contains."""
        low = text.lower()
        return sorted(m for m in self.markers(slug) | extra if m.lower() in low)

    # -- setting things up for one request (as the operator, outside the API) ------------

    async def new_member(self, slug: str = "contoso") -> uuid.UUID:
        tenant = self.world.tenants[slug]
        async with self.rt.database.transaction(tenant_id=tenant.id) as db:
            created = await identity.create_user(
                self.world.operator_in(slug),
                db,
                UserCreate(
                    email=f"{self.unique('target')}@{slug}.example",
                    display_name="Target Person",
                    password=PASSWORD,
                ),
            )
        self.made[slug].add(str(created.user.id))
        return created.user.id

    async def new_group(
        self, *members: str, slug: str = "contoso", rule: str | None = None
    ) -> uuid.UUID:
        tenant = self.world.tenants[slug]
        op = self.world.operator_in(slug)
        async with self.rt.database.transaction(tenant_id=tenant.id) as db:
            kind = "dynamic" if rule else "static"
            g = await identity.create_group(
                op, db, GroupCreate(name=self.unique("Team "), kind=kind, rule=rule)
            )
            for m in members:
                await identity.add_group_member(op, db, g.id, self.world.id(m))
        self.made[slug].add(str(g.id))
        return g.id

    async def new_domain(self, slug: str = "contoso") -> str:
        """A domain of ``slug`` whose verification TXT record is published."""
        tenant = self.world.tenants[slug]
        async with self.rt.database.transaction(tenant_id=tenant.id) as db:
            d = await identity.add_domain(
                self.world.operator_in(slug),
                db,
                DomainCreate(domain=f"{self.unique('d')}.{slug}.example"),
            )
        self.dns_records[d.domain] = [d.txt_record]
        self.made[slug].add(d.domain)
        return d.domain

    async def new_workspace(self) -> dict[str, uuid.UUID]:
        """A private contoso team owned by olivia with mia, sam (a moderator of its "Ops"
        channel) and the guest gus; a private channel of olivia and mia; posts by mia (liked
        by gus, mia and olivia; pinned) and olivia in Ops; a group chat of mia, olivia, gus
        and sam with a message by mia; and a public team of mia's."""
        w = self.world

        async def as_(who: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
            async with self.rt.database.transaction(tenant_id=w.tenant_of(who)) as db:
                return await fn(w.principal(who), db, *args)

        team = await as_("olivia", workspace.create_team, TeamCreate(name=self.unique("Team ")))
        for m in ("mia", "sam", "gus"):
            await as_("olivia", workspace.add_member, team.id, MemberAdd(user_id=w.id(m)))
        ops = await as_("olivia", workspace.create_channel, team.id, ChannelCreate(name="Ops"))
        await as_("olivia", workspace.add_moderator, ops.id, w.id("sam"))
        board = await as_(
            "olivia",
            workspace.create_channel,
            team.id,
            ChannelCreate(name="Board", kind="private", members=[w.id("mia")]),
        )
        post = await as_("mia", messaging.post_in_channel, ops.id, MessageCreate(text="plan"))
        agenda = await as_(
            "olivia", messaging.post_in_channel, ops.id, MessageCreate(text="agenda")
        )
        for who in ("gus", "mia", "olivia"):
            await as_(who, messaging.react, post.id, "like", True)
        await as_("olivia", messaging.pin, post.id, True)
        chat = await as_(
            "mia",
            messaging.create_chat,
            ChatCreate(members=[w.id("olivia"), w.id("gus"), w.id("sam")], topic="Launch"),
        )
        said = await as_("mia", messaging.send_in_chat, chat.id, MessageCreate(text="hi all"))
        public = await as_(
            "mia", workspace.create_team, TeamCreate(name=self.unique("Club "), privacy="public")
        )
        out = {
            "team": team.id,
            "ops": ops.id,
            "board": board.id,
            "post": post.id,
            "agenda": agenda.id,
            "chat": chat.id,
            "chat_message": said.id,
            "public_team": public.id,
        }
        self.made["contoso"] |= {str(v) for v in out.values()}
        return out

    async def new_meetings(self) -> dict[str, uuid.UUID]:
        """Two started meetings organized by olivia (``meeting``, and ``recorded``, being
        recorded): sam co-organizes (not there), mia is the named presenter, gus (guest)
        and hank are attendees, an anonymous "Knocker" waits in the lobby. And a dial-in
        gateway of contoso."""
        from overleg.meetings import dial_in, room, scheduling
        from overleg.meetings.recordings import control as recording
        from overleg.meetings.schemas import (
            DialInGatewayCreate,
            InviteeIn,
            JoinRequest,
            MeetingCreate,
            MeetingOptionsUpdate,
        )
        from overleg.security.principal import anonymous

        w = self.world
        contoso = w.tenants["contoso"].id
        out: dict[str, uuid.UUID] = {}
        for key in ("meeting", "recorded"):
            start = now()
            async with self.rt.database.transaction(tenant_id=contoso) as db:
                m = await scheduling.create_meeting(
                    w.principal("olivia"),
                    db,
                    MeetingCreate(
                        subject=self.unique("Review "),
                        starts_at=start,
                        ends_at=start + timedelta(hours=1),
                        invitees=[
                            InviteeIn(user_id=w.id(x)) for x in ("sam", "mia", "gus", "hank")
                        ],
                        options=MeetingOptionsUpdate(
                            lobby_bypass=LobbyBypass.INVITED,
                            who_can_present=WhoCanPresent.SPECIFIC_PEOPLE,
                            presenters=[w.id("mia")],
                            coorganizers=[w.id("sam")],
                        ),
                    ),
                )
            code = m.join_url.rsplit("/", 1)[-1]
            for who in ("olivia", "mia", "gus", "hank"):
                async with self.rt.database.transaction(tenant_id=contoso) as db:
                    joined = await room.join(w.principal(who), db, code, JoinRequest())
                out[f"{key}_{who}"] = joined.me.id
            async with self.rt.database.transaction(tenant_id=contoso) as db:
                knock = await room.join(
                    anonymous("203.0.113.9", "pytest", "test"),
                    db,
                    code,
                    JoinRequest(display_name="Knocker"),
                )
            out[key], out[f"{key}_knocker"] = m.id, knock.me.id
            async with self.rt.database.transaction(tenant_id=contoso) as db:
                sam = await room.join(w.principal("sam"), db, code, JoinRequest())
                await room.remove(w.principal("olivia"), db, m.id, sam.me.id, block_rejoin=True)
            out[f"{key}_blocked"] = sam.me.id
        async with self.rt.database.transaction(tenant_id=contoso) as db:
            await recording.set_recording(w.principal("olivia"), db, out["recorded"], True)
            gw = await dial_in.create_gateway(
                w.operator_in("contoso"), db, DialInGatewayCreate(name=self.unique("Bridge "))
            )
        out["gateway"] = gw.gateway.id
        # recordings of "meeting" with their files stored: a ready one (sam has an explicit
        # grant), a deleted one (recycled, to restore) and one whose post-processing failed
        from overleg.meetings.recordings import service as recordings
        from overleg.meetings.recordings.schemas import RecordingAccessSet
        from tests.meetings.recordings.factory import make_recording

        for key, state in (
            ("recording", "ready"),
            ("recycled", "recycled"),
            ("failed_recording", "failed"),  # for admins to retry
        ):
            made = await make_recording(
                self.rt,
                contoso,
                out["meeting"],
                organizer_id=w.id("olivia"),
                started_by=w.id("olivia"),
                state=state,
            )
            out[key], out[f"{key}_file"] = made.id, made.video_id
        async with self.rt.database.transaction(tenant_id=contoso) as db:
            grant = RecordingAccessSet(allowed=True)
            await recordings.set_access(
                w.principal("olivia"), db, out["recording"], w.id("sam"), grant
            )
        self.made["contoso"] |= {str(v) for v in out.values()}
        return out

    async def new_files(self, channel_id: uuid.UUID) -> dict[str, uuid.UUID]:
        """In a channel of ``new_workspace``: mia's ``clean`` file, a file whose version is
        quarantined (``infected_version``), an upload of mia's with nothing sent
        (``upload``) and one with its only part sent (``upload_full``). The clean file is
        shared with hank and has a ``link`` for people of contoso; ``deleted`` is a file of
        mia's in the channel's recycle bin; ``versioned`` a file of mia's with two clean
        versions."""
        from overleg.files import manage, sharing, uploads
        from overleg.files.models import FileItem, FileVersion
        from overleg.files.schemas import LinkCreate, ShareSet, UploadStart
        from tests.files.content import samples

        mia = self.world.principal("mia")
        place = {"container_type": "channel", "container_id": channel_id}

        async def one_part(data: bytes) -> Any:
            yield data

        out: dict[str, uuid.UUID] = {}
        async with self.rt.database.transaction(tenant_id=mia.tenant_id) as db:
            png = samples.image("PNG")  # the clean file has a preview
            for key, state in (("clean", "clean"), ("infected", "infected")):
                up = await uploads.start_upload(
                    mia, db, UploadStart(**place, name=f"{key}.png", size=len(png))
                )
                await uploads.put_part(mia, db, up.id, 0, one_part(png))
                made = await uploads.complete_upload(mia, db, up.id)
                f = await db.get(FileItem, made.id)
                assert f is not None and f.current_version_id is not None
                v = await db.get(FileVersion, f.current_version_id)
                assert v is not None
                v.scan_state = f.state = state
                v.scan_findings = [{"engine": "clamav", "name": "Example.Test", "detail": "-"}]
                out[key], out[f"{key}_version"] = f.id, v.id
            file_id = None
            for _ in range(2):
                up = await uploads.start_upload(
                    mia, db, UploadStart(**place, name="v.png", size=len(png), file_id=file_id)
                )
                await uploads.put_part(mia, db, up.id, 0, one_part(png))
                file_id = (await uploads.complete_upload(mia, db, up.id)).id
            for v in await db.scalars(select(FileVersion).where(FileVersion.file_id == file_id)):
                v.scan_state = "clean"
            f = await db.get(FileItem, file_id)
            assert f is not None and file_id is not None
            f.state, out["versioned"] = "clean", file_id
            hank = self.world.id("hank")
            await sharing.share_file(mia, db, out["clean"], hank, ShareSet(role="view"))
            made_link = await sharing.create_link(mia, db, out["clean"], LinkCreate())
            out["link"] = made_link.id
            self.notes[f"token:{made_link.id}"] = made_link.token  # shown this once
            up = await uploads.start_upload(
                mia, db, UploadStart(**place, name="old.png", size=len(png))
            )
            await uploads.put_part(mia, db, up.id, 0, one_part(png))
            out["deleted"] = (await uploads.complete_upload(mia, db, up.id)).id
            await manage.delete_file(mia, db, out["deleted"])
            for key in ("upload", "upload_full"):
                up = await uploads.start_upload(
                    mia, db, UploadStart(**place, name="u.txt", size=10)
                )
                if key == "upload_full":
                    await uploads.put_part(mia, db, up.id, 0, one_part(b"0123456789"))
                out[key] = up.id
        self.made["contoso"] |= {str(v) for v in out.values()}
        return out

    async def new_alert(self) -> uuid.UUID:
        """An open contoso alert (about a recording that could not be processed), raised
        as a job raises it."""
        from overleg.threat.service import raise_alert

        contoso = self.world.tenants["contoso"].id
        target = uuid.uuid4()
        async with self.rt.database.transaction(tenant_id=contoso) as db:
            alert_id = await raise_alert(
                db,
                tenant_id=contoso,
                kind="recording.processing_failed",
                severity="medium",
                title="A recording could not be processed",
                details={"recording_id": target, "reason": "conversion failed"},
                target_type="recording",
                target_id=target,
            )
        self.made["contoso"] |= {str(alert_id), str(target)}
        return alert_id

    async def pending_session(self, who: str) -> dict[str, str]:
        """A session of ``who`` that waits for the second factor (as after the password)."""
        async with self.rt.database.transaction(tenant_id=self.tenant_id(who)) as db:
            user = await db.get(User, self.user_id(who))
            assert user is not None
            token, _ = await start_session(
                db, user, state=MFA_PENDING, ip="203.0.113.10", user_agent="pytest"
            )
        return {"Authorization": f"Bearer {token}"}

    # -- sending and looking --------------------------------------------------------------

    async def call(
        self,
        who: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        h = self.headers[who] if headers is None else headers
        if content is not None:
            return await self.client.request(method, path, content=content, headers=h, params=query)
        return await self.client.request(method, path, json=json, headers=h, params=query)

    async def send(
        self, row: Row, who: str, req: Req, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        path = row.path.format(**req.params)
        return await self.call(
            who,
            row.method,
            path,
            json=req.json,
            headers=headers or req.headers,
            query=req.query,
            content=req.content,
        )

    async def audit_head(self, tenant_id: uuid.UUID) -> int:
        async with self.rt.database.transaction(tenant_id=tenant_id) as db:
            return int(await db.scalar(select(func.coalesce(func.max(AuditRecord.seq), 0))) or 0)

    async def audit_since(self, tenant_id: uuid.UUID, seq: int) -> list[AuditRecord]:
        async with self.rt.database.transaction(tenant_id=tenant_id) as db:
            rows = await db.scalars(
                select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)
            )
            return list(rows.all())


def stage_database(request: pytest.FixtureRequest, backend: str) -> tuple[str, Path]:
    """(database url, scratch directory) for a stage; call from a SYNC module fixture (the
    session fixtures it needs run migrations with ``asyncio.run``)."""
    tmp: Path = request.getfixturevalue("tmp_path_factory").mktemp(f"stage-{backend}")
    if backend == "sqlite":
        path = tmp / "overleg.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}", tmp
    return str(request.getfixturevalue("postgres_ready")), tmp


@asynccontextmanager
async def open_stage(
    database: tuple[str, Path],
    populate: Callable[[Stage], Awaitable[None]] | None = None,
    *,
    targets: bool = False,
) -> AsyncIterator[Stage]:
    """The world in ``database`` (from ``stage_database``), ready to be reset per test."""
    url, tmp = database
    if url.startswith("postgresql"):
        await _truncate_all(url)
    records: dict[str, list[str]] = {}
    async with txt_server(records) as nameserver:
        settings = settings_for_test(tmp / "data", url, dns_nameservers=[nameserver])
        rt = build_runtime(settings, create=True)
        try:
            world = await build_world(rt)
            app = create_app(rt, check_schema=False)
            asgi = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
            async with httpx.AsyncClient(transport=asgi, base_url="http://testserver") as client:
                stage = Stage(rt=rt, world=world, client=client, dns_records=records)
                await stage._prepare()
                if targets:
                    await stage.prepare_targets()
                if populate is not None:
                    await populate(stage)
                await stage.snapshot()
                yield stage
        finally:
            await rt.database.dispose()


# --- the requests ---------------------------------------------------------------------------
# Each ``Ask`` builds what ``who`` sends, from the stage alone (it writes nothing). Targets that
# a request changes or destroys exist once per principal (``Stage.prepare_targets``), so one
# principal's success never changes what the next one is answered.

Ask = Callable[[Stage, str], Req]


def nothing(st: Stage, who: str) -> Req:
    return Req()


def pending_session_and_code(st: Stage, who: str) -> Req:
    """A session of the caller waiting for its second factor, and the right code."""
    if who == "anonymous":
        return Req(json={"code": "000000"})
    return Req(json={"code": st.code(who)}, headers=st.pending_headers[who])


def own_code(st: Stage, who: str) -> Req:
    return Req(json={"code": "000000" if who == "anonymous" else st.code(who)})


def code_of_begun_enrolment(st: Stage, who: str) -> Req:
    """The first code of the authenticator enrolment the caller started."""
    if who == "anonymous":
        return Req(json={"code": "000000"})
    return Req(json={"code": totp.code_at(st.pending_secret[who], now())})


def mias_passkey(st: Stage, who: str) -> Req:
    return Req({"passkey_id": str(st.mias_passkey)})


def mias_passkey_renamed(st: Stage, who: str) -> Req:
    return replace(mias_passkey(st, who), json={"name": "Renamed"})


def passkey_without_ceremony(st: Stage, who: str) -> Req:
    """A passkey's answer when no ceremony was started: nothing to check it against (409)."""
    return Req(json={"name": "Laptop", "credential": {"id": "AAAA"}})


def passkey_answer_without_ceremony(st: Stage, who: str) -> Req:
    return Req(json={"credential": {"id": "AAAA"}})


def pending_session_and_passkey(st: Stage, who: str) -> Req:
    """A session waiting for its second factor, and a passkey answer (no ceremony open)."""
    if who == "anonymous":
        return Req(json={"credential": {"id": "AAAA"}})
    return Req(json={"credential": {"id": "AAAA"}}, headers=st.pending_headers[who])


def password_change(st: Stage, who: str) -> Req:
    return Req(json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})


def mias_other_session(st: Stage, who: str) -> Req:
    return Req({"session_id": str(st.other_session["mia"])})


def olivias_other_session(st: Stage, who: str) -> Req:
    return Req({"session_id": str(st.other_session["olivia"])})


def new_user(st: Stage, who: str) -> Req:
    """A new member of the caller's own organisation."""
    return Req(
        json={"email": f"{st.unique('new')}@{st.domain_of(who)}", "display_name": "New Person"}
    )


def mia(st: Stage, who: str) -> Req:
    return Req({"user_id": str(st.user_id("mia"))})


def olivia(st: Stage, who: str) -> Req:
    """Olivia, a global admin: only another global admin may act on her account."""
    return Req({"user_id": str(st.user_id("olivia"))})


def member(st: Stage, who: str) -> Req:
    """A contoso member (one per principal)."""
    return Req({"user_id": str(st.target_member[who])})


def member_job_title(st: Stage, who: str) -> Req:
    return replace(member(st, who), json={"job_title": "Analyst"})


def olivia_job_title(st: Stage, who: str) -> Req:
    return replace(olivia(st, who), json={"job_title": "Director"})


def member_made_user_admin(st: Stage, who: str) -> Req:
    return replace(member(st, who), json={"admin_roles": ["user_admin"]})


def olivia_kept_global_admin(st: Stage, who: str) -> Req:
    return replace(olivia(st, who), json={"admin_roles": ["global_admin"]})


def new_group(st: Stage, who: str) -> Req:
    return Req(json={"name": st.unique("Project ")})


def group_of_mia(st: Stage, who: str) -> Req:
    """A contoso group (one per principal) with mia in it."""
    return Req({"group_id": str(st.target_group[who]), "user_id": str(st.user_id("mia"))})


def group_of_mia_add_sam(st: Stage, who: str) -> Req:
    return replace(group_of_mia(st, who), json={"user_id": str(st.user_id("sam"))})


def new_domain(st: Stage, who: str) -> Req:
    return Req(json={"domain": f"{st.unique('new')}.{st.domain_of(who)}"})


def contoso_domain_published(st: Stage, who: str) -> Req:
    """A contoso domain whose TXT record is in DNS: verification can succeed."""
    return Req({"domain": st.target_domain[who]})


def mfa_policy(st: Stage, who: str) -> Req:
    return Req({"kind": "mfa"})


def mfa_policy_body(st: Stage, who: str) -> Req:
    return Req({"kind": "mfa"}, json={"require": "admins", "allow_recovery_codes": True})


def _ws(key: str, name: str = "") -> Ask:
    def ask(st: Stage, who: str) -> Req:
        return Req({name or f"{key}_id": str(st.ws[who][key])})

    ask.__name__ = name or key
    return ask


team = _ws("team")
public_team = _ws("public_team", "team_id")
public_team.__name__ = "public_team"
ops = _ws("ops", "channel_id")
ops.__name__ = "ops_channel"
board = _ws("board", "channel_id")
board.__name__ = "private_channel"
chat = _ws("chat")
mias_post = _ws("post", "message_id")
mias_post.__name__ = "mias_post"


def _with(ask: Ask, name: str, **extra: Callable[[Stage, str], Any]) -> Ask:
    """``ask`` plus more path parameters, a ``json`` body or a ``query``."""

    def built(st: Stage, who: str) -> Req:
        req = ask(st, who)
        params = dict(req.params)
        body = query = None
        for k, make in extra.items():
            if k == "json":
                body = make(st, who)
            elif k == "query":
                query = make(st, who)
            else:
                params[k] = str(make(st, who))
        return Req(params, json=body, query=query)

    built.__name__ = name
    return built


def _mate(st: Stage, who: str) -> str:
    """Someone of the caller's own tenant to start a chat with."""
    return str(st.user_id("frank" if who == "eve" else "sam"))


new_team = _with(nothing, "new_team", json=lambda st, w: {"name": st.unique("New team ")})
team_renamed = _with(team, "team_renamed", json=lambda st, w: {"name": st.unique("Renamed ")})
team_add_hank = _with(
    team, "team_add_hank", json=lambda st, w: {"user_id": str(st.user_id("hank"))}
)
team_sam = _with(team, "team_sam", user_id=lambda st, w: st.user_id("sam"))
team_sam_owner = _with(team_sam, "team_sam_owner", json=lambda st, w: {"role": "owner"})
new_channel = _with(team, "new_channel", json=lambda st, w: {"name": st.unique("Room ")})
ops_described = _with(ops, "ops_described", json=lambda st, w: {"description": "weekly"})
ops_moderated = _with(ops, "ops_moderated", json=lambda st, w: {"new_post_policy": "moderators"})
ops_add_mia = _with(
    ops, "ops_add_mia_as_moderator", json=lambda st, w: {"user_id": str(st.user_id("mia"))}
)
ops_sam = _with(ops, "ops_moderator_sam", user_id=lambda st, w: st.user_id("sam"))
ops_text = _with(ops, "ops_new_post", json=lambda st, w: {"text": "status update"})
ops_thread = _with(ops, "ops_thread", post_id=lambda st, w: st.ws[w]["post"])
ops_thread_reply = _with(ops_thread, "ops_thread_reply", json=lambda st, w: {"text": "agreed"})
board_add_sam = _with(
    board, "board_add_sam", json=lambda st, w: {"user_id": str(st.user_id("sam"))}
)
board_mia = _with(board, "board_mia", user_id=lambda st, w: st.user_id("mia"))
new_chat = _with(nothing, "new_chat", json=lambda st, w: {"members": [_mate(st, w)]})
chat_named = _with(chat, "chat_named", json=lambda st, w: {"topic": "Launch week"})
chat_add_hank = _with(
    chat, "chat_add_hank", json=lambda st, w: {"members": [str(st.user_id("hank"))]}
)
chat_sam = _with(chat, "chat_sam", user_id=lambda st, w: st.user_id("sam"))
chat_text = _with(chat, "chat_text", json=lambda st, w: {"text": "on my way"})
chat_read = _with(
    chat, "chat_read_mark", json=lambda st, w: {"message_id": str(st.ws[w]["chat_message"])}
)
post_edit = _with(mias_post, "mias_post_edited", json=lambda st, w: {"text": "plan v2"})
post_like = _with(mias_post, "mias_post_liked_by_caller", kind=lambda st, w: "like")
post_heart = _with(mias_post, "mias_post_heart", kind=lambda st, w: "heart")
agenda = _ws("agenda", "message_id")
agenda.__name__ = "olivias_unpinned_post"
search_plan = _with(nothing, "search_plan", query=lambda st, w: {"q": "plan"})
preview_text = _with(nothing, "preview_text", json=lambda st, w: {"text": "**plan**"})
busy = _with(nothing, "busy", json=lambda st, w: {"availability": "busy"})
mias_presence = _with(
    nothing, "mias_presence", query=lambda st, w: {"user_id": str(st.user_id("mia"))}
)


def _mt(key: str, **more: str) -> Ask:
    """The caller's own copy of meeting ``key``, and participants of it by name."""

    def ask(st: Stage, who: str) -> Req:
        params = {"meeting_id": str(st.mt[who][key])}
        params |= {name: str(st.mt[who][f"{key}_{p}"]) for name, p in more.items()}
        return Req(params)

    ask.__name__ = "_".join([key, *more.values()])
    return ask


meeting = _mt("meeting")
recorded = _mt("recorded")
knocker = _mt("meeting", participant_id="knocker")
hank_in_meeting = _mt("meeting", participant_id="hank")
blocked_sam = _mt("meeting", participant_id="blocked")
meeting_renamed = _with(meeting, "meeting_renamed", json=lambda st, w: {"subject": "Moved"})
meeting_no_chat = _with(meeting, "meeting_no_chat", json=lambda st, w: {"allow_chat": False})
meeting_text = _with(meeting, "meeting_chat_text", json=lambda st, w: {"text": "hello"})
meeting_muted = _with(meeting, "meeting_me_muted", json=lambda st, w: {"muted": True})
hank_presenter = _with(hank_in_meeting, "hank_presenter", json=lambda st, w: {"role": "presenter"})
meeting_consent = _with(meeting, "meeting_consent", json=lambda st, w: {"agree": True})
hank_not_recorded = _with(
    hank_in_meeting, "hank_not_recorded", json=lambda st, w: {"excluded": True}
)
hank_mic_off = _with(hank_in_meeting, "hank_mic_off", json=lambda st, w: {"mic": False})


def _soon(st: Stage, who: str) -> dict[str, Any]:
    start = now() + timedelta(days=1)
    end = start + timedelta(hours=1)
    return {
        "subject": st.unique("Plan "),
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
    }


new_meeting = _with(nothing, "new_meeting", json=_soon)
meet_now = _with(nothing, "meet_now", json=lambda st, w: {"subject": st.unique("Now ")})
ops_meeting = _with(ops, "ops_channel_meeting", json=_soon)
#: an SDP offer in form (no media server in the stage: the answer is 503 after the checks)
_OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
media_offer = _with(
    meeting, "meeting_audio_offer", json=lambda st, w: {"sdp": _OFFER, "video": False}
)
media_camera = _with(meeting, "meeting_camera", kind=lambda st, w: "camera")
media_feeds = _with(
    meeting,
    "meeting_feed_of_mia",
    json=lambda st, w: {"feeds": [{"participant_id": str(st.mt[w]["meeting_mia"])}]},
)
media_answer = _with(
    meeting,
    "meeting_subscription_answer",
    subscription_id=lambda st, w: "s1",
    json=lambda st, w: {"sdp": _OFFER},
)
new_gateway = _with(nothing, "new_gateway", json=lambda st, w: {"name": st.unique("Bridge ")})


def contoso_gateway(st: Stage, who: str) -> Req:
    """A contoso dial-in gateway (one per principal)."""
    return Req({"gateway_id": str(st.mt[who]["gateway"])})


def _recording(key: str) -> Ask:
    """The caller's own copy of a recording of "meeting": ``recording`` (ready) or
    ``recycled``."""

    def ask(st: Stage, who: str) -> Req:
        return Req({"recording_id": str(st.mt[who][key])})

    ask.__name__ = key
    return ask


recording = _recording("recording")
recording_video = _with(
    recording, "recording_video", file_id=lambda st, w: st.mt[w]["recording_file"]
)
recording_expiry = _with(
    recording,
    "recording_expiry_in_30_days",
    json=lambda st, w: {"expires_at": (now() + timedelta(days=30)).isoformat()},
)
recycled_restore = _with(_recording("recycled"), "recycled_restore", json=lambda st, w: {})
recording_deny_hank = _with(
    recording,
    "recording_deny_hank",
    user_id=lambda st, w: st.user_id("hank"),
    json=lambda st, w: {"allowed": False},
)
failed_recording = _recording("failed_recording")
recording_sam = _with(recording, "recording_grant_of_sam", user_id=lambda st, w: st.user_id("sam"))


def _fl(key: str, name: str) -> Ask:
    def ask(st: Stage, who: str) -> Req:
        return Req({name: str(st.fl[who][key])})

    ask.__name__ = key
    return ask


clean_file = _fl("clean", "file_id")
quarantined = _fl("infected_version", "version_id")
quarantine_rescan = _with(quarantined, "quarantine_rescan", json=lambda st, w: {"action": "rescan"})
mias_upload = _fl("upload", "upload_id")
mias_full_upload = _fl("upload_full", "upload_id")
deleted_file = _fl("deleted", "file_id")
clean_renamed = _with(clean_file, "clean_renamed", json=lambda st, w: {"name": "renamed.png"})
clean_to_board = _with(
    clean_file, "clean_to_board", json=lambda st, w: {"container_id": str(st.ws[w]["board"])}
)
clean_share_sam = _with(
    clean_file,
    "clean_share_sam",
    user_id=lambda st, w: st.user_id("sam"),
    json=lambda st, w: {"role": "view"},
)
clean_share_hank = _with(clean_file, "clean_share_hank", user_id=lambda st, w: st.user_id("hank"))
clean_new_link = _with(clean_file, "clean_new_link", json=lambda st, w: {"audience": "people"})
clean_link = _with(clean_file, "clean_link", link_id=lambda st, w: st.fl[w]["link"])


def clean_link_token(st: Stage, who: str) -> Req:
    """The token of the clean file's link for people of contoso."""
    return Req({"token": st.notes[f"token:{st.fl[who]['link']}"]})


versioned_first = _with(_fl("versioned", "file_id"), "versioned_first", number=lambda st, w: "1")


def ops_files(st: Stage, who: str) -> Req:
    """The files of the "Ops" channel (a team of olivia's with mia and gus in it)."""
    return Req(query={"container_type": "channel", "container_id": str(st.ws[who]["ops"])})


def upload_into_ops(st: Stage, who: str) -> Req:
    body = {"container_type": "channel", "container_id": str(st.ws[who]["ops"])}
    return Req(json={**body, "name": "new.txt", "size": 10})


def mias_upload_part(st: Stage, who: str) -> Req:
    return Req({"upload_id": str(st.fl[who]["upload"]), "n": "0"}, content=b"abcdefghij")


def contoso_alert(st: Stage, who: str) -> Req:
    """An open contoso alert (one per principal)."""
    return Req({"alert_id": str(st.alerts[who])})


alert_resolved = _with(
    contoso_alert, "contoso_alert_resolved", json=lambda st, w: {"resolution": "re-processed"}
)


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    ask: Ask
    expect: dict[str, int]

    @property
    def route(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} <- {self.ask.__name__}"

    @property
    def is_admin_route(self) -> bool:
        return self.path.startswith("/api/admin/")


def row(method: str, path: str, ask: Ask, *codes: int) -> Row:
    assert len(codes) == len(WHO), f"{method} {path}: give one status per principal {WHO}"
    return Row(method, path, ask, dict(zip(WHO, codes, strict=True)))


# fmt: off
MATRIX: tuple[Row, ...] = (
    #   method    route                                             request                     anon gus  mia  oliv sid  cora uma  eve
    # sign-in steps and the own account: any signed-in person, whatever their roles
    row("POST",   "/api/v1/auth/mfa",                               pending_session_and_code,   401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/auth/step-up",                           own_code,                   401, 204, 204, 204, 204, 204, 204, 204),
    row("POST",   "/api/v1/auth/sign-out",                          nothing,                    401, 204, 204, 204, 204, 204, 204, 204),
    row("GET",    "/api/v1/me",                                     nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("GET",    "/api/v1/me/sessions",                            nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("DELETE", "/api/v1/me/sessions/{session_id}",               mias_other_session,         401, 404, 204, 404, 404, 404, 404, 404),
    row("POST",   "/api/v1/me/sessions/revoke-others",              nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/me/mfa/totp",                            nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/me/mfa/totp/activate",                   code_of_begun_enrolment,    401, 200, 200, 200, 200, 200, 200, 200),
    # policy "admins must use a second factor" (the default): admins cannot remove theirs
    row("DELETE", "/api/v1/me/mfa/totp",                            nothing,                    401, 204, 204, 409, 409, 409, 409, 409),
    row("POST",   "/api/v1/me/mfa/recovery-codes",                  nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/me/password",                            password_change,            401, 200, 200, 200, 200, 200, 200, 200),
    # passkeys: one's own (mia has one on the stage). An answer without a started ceremony
    # (its challenge) is 409; the ceremonies themselves are tested in tests/api/test_passkeys.py
    row("GET",    "/api/v1/me/passkeys",                            nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/me/passkeys/options",                    nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/me/passkeys",                            passkey_without_ceremony,   401, 409, 409, 409, 409, 409, 409, 409),
    row("PATCH",  "/api/v1/me/passkeys/{passkey_id}",               mias_passkey_renamed,       401, 404, 200, 404, 404, 404, 404, 404),
    row("DELETE", "/api/v1/me/passkeys/{passkey_id}",               mias_passkey,               401, 404, 204, 404, 404, 404, 404, 404),
    # a challenge for one's own passkeys: only mia has one
    row("POST",   "/api/v1/auth/passkey/options",                   nothing,                    401, 409, 200, 409, 409, 409, 409, 409),
    row("POST",   "/api/v1/auth/mfa/passkey",                       pending_session_and_passkey, 401, 409, 409, 409, 409, 409, 409, 409),
    row("POST",   "/api/v1/auth/step-up/passkey",                   passkey_answer_without_ceremony, 401, 409, 409, 409, 409, 409, 409, 409),
    # guests do not browse the organisation's directory
    row("GET",    "/api/v1/directory",                              nothing,                    401, 403, 200, 200, 200, 200, 200, 200),

    # users: people the caller cannot see (gus: everyone but himself; eve: all of contoso) are 404
    row("GET",    "/api/admin/users",                               nothing,                    401, 403, 403, 200, 200, 200, 200, 200),
    row("POST",   "/api/admin/users",                               new_user,                   401, 403, 403, 201, 403, 403, 201, 201),
    row("GET",    "/api/admin/users/{user_id}",                     mia,                        401, 404, 403, 200, 200, 200, 200, 404),
    row("PATCH",  "/api/admin/users/{user_id}",                     member_job_title,           401, 404, 403, 200, 403, 403, 200, 404),
    row("PATCH",  "/api/admin/users/{user_id}",                     olivia_job_title,           401, 404, 403, 200, 403, 403, 403, 404),
    row("PUT",    "/api/admin/users/{user_id}/roles",               member_made_user_admin,     401, 404, 403, 200, 403, 403, 403, 404),
    row("PUT",    "/api/admin/users/{user_id}/roles",               olivia_kept_global_admin,   401, 404, 403, 200, 403, 403, 403, 404),
    row("POST",   "/api/admin/users/{user_id}/disable",             member,                     401, 404, 403, 200, 403, 403, 200, 404),
    # olivia may not disable or delete her own account (409)
    row("POST",   "/api/admin/users/{user_id}/disable",             olivia,                     401, 404, 403, 409, 403, 403, 403, 404),
    row("POST",   "/api/admin/users/{user_id}/enable",              member,                     401, 404, 403, 200, 403, 403, 200, 404),
    row("DELETE", "/api/admin/users/{user_id}",                     member,                     401, 404, 403, 200, 403, 403, 200, 404),
    row("DELETE", "/api/admin/users/{user_id}",                     olivia,                     401, 404, 403, 409, 403, 403, 403, 404),
    row("POST",   "/api/admin/users/{user_id}/reset-mfa",           member,                     401, 404, 403, 200, 403, 403, 200, 404),
    row("POST",   "/api/admin/users/{user_id}/reset-mfa",           olivia,                     401, 404, 403, 200, 403, 403, 403, 404),
    row("POST",   "/api/admin/users/{user_id}/reset-password",      member,                     401, 404, 403, 200, 403, 403, 200, 404),
    row("POST",   "/api/admin/users/{user_id}/reset-password",      olivia,                     401, 404, 403, 200, 403, 403, 403, 404),
    row("GET",    "/api/admin/users/{user_id}/sessions",            mia,                        401, 403, 403, 200, 200, 403, 200, 404),
    # an admin's sessions (addresses, devices) are a global admin's business, to read as to end
    row("GET",    "/api/admin/users/{user_id}/sessions",            olivia,                     401, 403, 403, 200, 403, 403, 403, 404),
    # the role is checked before anything is loaded: 403 without the role, 404 for eve
    row("DELETE", "/api/admin/sessions/{session_id}",               mias_other_session,         401, 403, 403, 204, 204, 403, 204, 404),
    row("DELETE", "/api/admin/sessions/{session_id}",               olivias_other_session,      401, 403, 403, 204, 403, 403, 403, 404),

    # groups (role checked before loading, like sessions: 403 inside the tenant, 404 for eve)
    row("GET",    "/api/admin/groups",                              nothing,                    401, 403, 403, 200, 200, 200, 200, 200),
    row("POST",   "/api/admin/groups",                              new_group,                  401, 403, 403, 201, 403, 403, 201, 201),
    row("DELETE", "/api/admin/groups/{group_id}",                   group_of_mia,               401, 403, 403, 204, 403, 403, 204, 404),
    row("GET",    "/api/admin/groups/{group_id}/members",           group_of_mia,               401, 403, 403, 200, 200, 200, 200, 404),
    row("POST",   "/api/admin/groups/{group_id}/members",           group_of_mia_add_sam,       401, 403, 403, 204, 403, 403, 204, 404),
    row("DELETE", "/api/admin/groups/{group_id}/members/{user_id}", group_of_mia,               401, 403, 403, 204, 403, 403, 204, 404),

    # the organisation, its domains and policies
    row("GET",    "/api/admin/tenant",                              nothing,                    401, 403, 403, 200, 200, 200, 200, 200),
    row("GET",    "/api/admin/domains",                             nothing,                    401, 403, 403, 200, 200, 200, 200, 200),
    row("POST",   "/api/admin/domains",                             new_domain,                 401, 403, 403, 201, 403, 403, 403, 201),
    row("POST",   "/api/admin/domains/{domain}/verify",             contoso_domain_published,   401, 403, 403, 200, 403, 403, 403, 404),
    row("GET",    "/api/admin/policies/{kind}",                     mfa_policy,                 401, 403, 403, 200, 200, 200, 403, 200),
    row("PUT",    "/api/admin/policies/{kind}",                     mfa_policy_body,            401, 403, 403, 200, 200, 403, 403, 200),
    row("GET",    "/api/admin/policies/{kind}/history",             mfa_policy,                 401, 403, 403, 200, 200, 200, 403, 200),
    row("GET",    "/api/admin/policies/{kind}/schema",              mfa_policy,                 401, 403, 403, 200, 200, 200, 403, 200),
    # service status (database, Redis, Janus, clamd): global and security admins
    row("GET",    "/api/admin/status",                              nothing,                    401, 403, 403, 200, 200, 403, 403, 200),

    # the audit log
    row("GET",    "/api/admin/audit",                               nothing,                    401, 403, 403, 200, 200, 200, 403, 200),
    row("GET",    "/api/admin/audit/export",                        nothing,                    401, 403, 403, 200, 200, 200, 403, 200),
    row("POST",   "/api/admin/audit/verify",                        nothing,                    401, 403, 403, 200, 200, 200, 403, 200),

    # teams: a private team of olivia (owner) with mia, sam and the guest gus; sid, cora and uma
    # are not in it, so for them it does not exist (their admin roles give no team access)
    row("GET",    "/api/v1/teams",                                  nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    # guests do not browse public teams
    row("GET",    "/api/v1/teams/discover",                         nothing,                    401, 403, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/teams",                                  new_team,                   401, 403, 201, 201, 201, 201, 201, 201),
    row("GET",    "/api/v1/teams/{team_id}",                        team,                       401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/teams/{team_id}",                        team_renamed,               401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/teams/{team_id}/archive",                team,                       401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/teams/{team_id}/unarchive",              team,                       401, 403, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/teams/{team_id}",                        team,                       401, 403, 403, 204, 404, 404, 404, 404),
    # mia's public team: she is in it already (409); guests and other tenants do not see it
    row("POST",   "/api/v1/teams/{team_id}/join",                   public_team,                401, 404, 409, 200, 200, 200, 200, 404),
    # the only owner may not leave (409)
    row("POST",   "/api/v1/teams/{team_id}/leave",                  team,                       401, 204, 204, 409, 404, 404, 404, 404),
    row("GET",    "/api/v1/teams/{team_id}/members",                team,                       401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/teams/{team_id}/members",                team_add_hank,              401, 403, 403, 201, 404, 404, 404, 404),
    row("PUT",    "/api/v1/teams/{team_id}/members/{user_id}/role", team_sam_owner,             401, 403, 403, 204, 404, 404, 404, 404),
    row("DELETE", "/api/v1/teams/{team_id}/members/{user_id}",      team_sam,                   401, 403, 403, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/teams/{team_id}/channels",               team,                       401, 200, 200, 200, 404, 404, 404, 404),
    # members may create channels (the default), guests may not
    row("POST",   "/api/v1/teams/{team_id}/channels",               new_channel,                401, 403, 201, 201, 404, 404, 404, 404),

    # channels: "Ops" (standard, sam moderates), "Board" (private: olivia owns, mia is in it)
    row("GET",    "/api/v1/channels/{channel_id}",                  ops,                        401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/channels/{channel_id}",                  ops_described,              401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/archive",          ops,                        401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/unarchive",        ops,                        401, 403, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/channels/{channel_id}",                  ops,                        401, 403, 403, 204, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/members",          board_add_sam,              401, 404, 403, 204, 404, 404, 404, 404),
    # mia may take herself out of a private channel; the channel's owner may take anyone out
    row("DELETE", "/api/v1/channels/{channel_id}/members/{user_id}", board_mia,                 401, 404, 204, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/channels/{channel_id}/moderation",       ops,                        401, 200, 200, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/channels/{channel_id}/moderation",       ops_moderated,              401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/moderators",       ops_add_mia,                401, 403, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/channels/{channel_id}/moderators/{user_id}", ops_sam,                401, 403, 403, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/channels/{channel_id}/messages",         ops,                        401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/messages",         ops_text,                   401, 201, 201, 201, 404, 404, 404, 404),
    row("GET",    "/api/v1/channels/{channel_id}/messages/{post_id}/replies", ops_thread,       401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/messages/{post_id}/replies", ops_thread_reply, 401, 201, 201, 201, 404, 404, 404, 404),
    row("GET",    "/api/v1/channels/{channel_id}/pins",             ops,                        401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/channels/{channel_id}/read",             ops,                        401, 200, 200, 200, 404, 404, 404, 404),

    # chats: a group chat of mia, olivia, gus and sam; guests start no chats
    row("GET",    "/api/v1/chats",                                  nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/chats",                                  new_chat,                   401, 403, 201, 201, 201, 201, 201, 201),
    row("GET",    "/api/v1/chats/{chat_id}",                        chat,                       401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/chats/{chat_id}",                        chat_named,                 401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/chats/{chat_id}/members",                chat_add_hank,              401, 200, 200, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/chats/{chat_id}/members/{user_id}",      chat_sam,                   401, 204, 204, 204, 404, 404, 404, 404),
    row("POST",   "/api/v1/chats/{chat_id}/leave",                  chat,                       401, 204, 204, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/chats/{chat_id}/messages",               chat,                       401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/chats/{chat_id}/messages",               chat_text,                  401, 201, 201, 201, 404, 404, 404, 404),
    row("GET",    "/api/v1/chats/{chat_id}/pins",                   chat,                       401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/chats/{chat_id}/read",                   chat_read,                  401, 200, 200, 200, 404, 404, 404, 404),

    # one message (mia's post in Ops): only its author edits; she or a moderator deletes it;
    # channel pins are for owners and moderators
    row("POST",   "/api/v1/messages/preview",                       preview_text,               401, 200, 200, 200, 200, 200, 200, 200),
    row("PATCH",  "/api/v1/messages/{message_id}",                  post_edit,                  401, 403, 200, 403, 404, 404, 404, 404),
    row("DELETE", "/api/v1/messages/{message_id}",                  mias_post,                  401, 403, 204, 204, 404, 404, 404, 404),
    row("PUT",    "/api/v1/messages/{message_id}/reactions/{kind}", post_heart,                 401, 200, 200, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/messages/{message_id}/reactions/{kind}", post_like,                  401, 200, 200, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/messages/{message_id}/pin",              agenda,                     401, 403, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/messages/{message_id}/pin",              mias_post,                  401, 403, 403, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/search/messages",                        search_plan,                401, 200, 200, 200, 200, 200, 200, 200),
    row("GET",    "/api/v1/search/files",                           search_plan,                401, 200, 200, 200, 200, 200, 200, 200),

    # realtime: a ticket for the event socket, one's own presence; others' presence only as
    # far as one may see them (gus and eve get an empty list for mia)
    row("POST",   "/api/v1/events/ticket",                          nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("PUT",    "/api/v1/me/presence",                            busy,                       401, 200, 200, 200, 200, 200, 200, 200),
    row("GET",    "/api/v1/presence",                               mias_presence,              401, 200, 200, 200, 200, 200, 200, 200),
    # meetings: olivia organizes, mia presents, gus (guest) attends; others are not in it
    row("POST",   "/api/v1/meetings",                               new_meeting,                401, 403, 201, 201, 201, 201, 201, 201),
    row("POST",   "/api/v1/meetings/now",                           meet_now,                   401, 403, 201, 201, 201, 201, 201, 201),
    row("GET",    "/api/v1/meetings",                               nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("POST",   "/api/v1/channels/{channel_id}/meetings",         ops_meeting,                401, 403, 201, 201, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}",                  meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/meetings/{meeting_id}",                  meeting_renamed,            401, 403, 403, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/cancel",           meeting,                    401, 403, 403, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/invitation.ics",   meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/options",          meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/meetings/{meeting_id}/options",          meeting_no_chat,            401, 403, 403, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/room",             meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/participants",     meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/lobby",            meeting,                    401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/lobby/admit-all",  meeting,                    401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/lobby/{participant_id}/admit", knocker,        401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/lobby/{participant_id}/deny",  knocker,        401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/leave",            meeting,                    401, 204, 204, 204, 404, 404, 404, 404),
    row("DELETE", "/api/v1/meetings/{meeting_id}/participants/{participant_id}", hank_in_meeting, 401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/participants/{participant_id}/unblock", blocked_sam, 401, 403, 403, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/meetings/{meeting_id}/participants/{participant_id}/role", hank_presenter, 401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/participants/{participant_id}/mute", hank_in_meeting, 401, 403, 200, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/meetings/{meeting_id}/participants/{participant_id}/media-permissions", hank_mic_off, 401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/participants/{participant_id}/lower-hand", hank_in_meeting, 401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/me/hand",          meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/meetings/{meeting_id}/me/hand",          meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/meetings/{meeting_id}/me/media",         meeting_muted,              401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/end",              meeting,                    401, 403, 403, 204, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/recording/start",  meeting,                    401, 403, 204, 204, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/recording/stop",   recorded,                   401, 403, 204, 204, 404, 404, 404, 404),
    # consent is asked only while a recording with explicit consent runs (not here: 409)
    row("POST",   "/api/v1/meetings/{meeting_id}/recording/consent", meeting_consent,          401, 409, 409, 409, 404, 404, 404, 404),
    row("PUT",    "/api/v1/meetings/{meeting_id}/participants/{participant_id}/recording-exclusion", hank_not_recorded, 401, 403, 403, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/messages",         meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/messages",         meeting_text,               401, 201, 201, 201, 404, 404, 404, 404),
    # audio and video: the checks come first, then 503 (the stage runs no media server)
    row("POST",   "/api/v1/meetings/{meeting_id}/media/publish",    media_offer,                401, 503, 503, 503, 404, 404, 404, 404),
    row("DELETE", "/api/v1/meetings/{meeting_id}/media/publish/{kind}", media_camera,           401, 503, 503, 503, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/media/feeds",      meeting,                    401, 503, 503, 503, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/media/subscriptions", media_feeds,             401, 503, 503, 503, 404, 404, 404, 404),
    row("POST",   "/api/v1/meetings/{meeting_id}/media/subscriptions/{subscription_id}/answer", media_answer, 401, 503, 503, 503, 404, 404, 404, 404),
    row("DELETE", "/api/v1/meetings/{meeting_id}/media",            meeting,                    401, 204, 204, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/meetings/{meeting_id}/attendance",       meeting,                    401, 403, 403, 200, 404, 404, 404, 404),
    # recordings of that meeting: olivia owns them, mia (invited) watches and downloads; gus,
    # a guest, sees the meeting but no recording without a grant; a recycled one is hers only
    row("GET",    "/api/v1/meetings/{meeting_id}/recordings",       meeting,                    401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/recordings/{recording_id}",              recording,                  401, 404, 200, 200, 404, 404, 404, 404),
    row("PATCH",  "/api/v1/recordings/{recording_id}",              recording_expiry,           401, 404, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/recordings/{recording_id}",              recording,                  401, 404, 403, 204, 404, 404, 404, 404),
    row("POST",   "/api/v1/recordings/{recording_id}/restore",      recycled_restore,           401, 404, 404, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/recordings/{recording_id}/files/{file_id}", recording_video,         401, 404, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/recordings/{recording_id}/files/{file_id}/download", recording_video, 401, 404, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/recordings/{recording_id}/access",       recording,                  401, 404, 403, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/recordings/{recording_id}/access/{user_id}", recording_deny_hank,    401, 404, 403, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/recordings/{recording_id}/access/{user_id}", recording_sam,          401, 404, 403, 204, 404, 404, 404, 404),
    # dial-in gateways: global admins, with a fresh second factor
    row("GET",    "/api/admin/dial-in/gateways",                    nothing,                    401, 403, 403, 200, 403, 403, 403, 200),
    row("POST",   "/api/admin/dial-in/gateways",                    new_gateway,                401, 403, 403, 201, 403, 403, 403, 201),
    row("DELETE", "/api/admin/dial-in/gateways/{gateway_id}",       contoso_gateway,            401, 403, 403, 204, 403, 403, 403, 404),
    # files: the channel's members see them and upload; an upload is its uploader's alone
    row("POST",   "/api/v1/files/uploads",                          upload_into_ops,            401, 201, 201, 201, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/uploads/{upload_id}",              mias_upload,                401, 404, 200, 404, 404, 404, 404, 404),
    row("PUT",    "/api/v1/files/uploads/{upload_id}/parts/{n}",    mias_upload_part,           401, 404, 200, 404, 404, 404, 404, 404),
    row("POST",   "/api/v1/files/uploads/{upload_id}/complete",     mias_full_upload,           401, 404, 201, 404, 404, 404, 404, 404),
    row("DELETE", "/api/v1/files/uploads/{upload_id}",              mias_upload,                401, 404, 204, 404, 404, 404, 404, 404),
    row("GET",    "/api/v1/files",                                  ops_files,                  401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/{file_id}",                        clean_file,                 401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/{file_id}/content",                clean_file,                 401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/{file_id}/preview",                clean_file,                 401, 200, 200, 200, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/shared",                           nothing,                    401, 200, 200, 200, 200, 200, 200, 200),
    row("GET",    "/api/v1/files/{file_id}/versions",               clean_file,                 401, 200, 200, 200, 404, 404, 404, 404),
    # an older version: downloaded by whoever sees the file, restored by whoever writes it
    row("GET",    "/api/v1/files/{file_id}/versions/{number}/content", versioned_first,         401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/files/{file_id}/versions/{number}/restore", versioned_first,         401, 200, 200, 200, 404, 404, 404, 404),
    # the place's people rename, delete and restore (the guest gus too: he writes in Ops);
    # moving needs the target channel too (gus is not in the private "Board")
    row("PATCH",  "/api/v1/files/{file_id}",                        clean_renamed,              401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/files/{file_id}/move",                   clean_to_board,             401, 404, 200, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/files/{file_id}",                        clean_file,                 401, 204, 204, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/deleted",                          ops_files,                  401, 200, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/files/{file_id}/restore",                deleted_file,               401, 200, 200, 200, 404, 404, 404, 404),
    # sharing: whoever writes the file, except guests
    row("GET",    "/api/v1/files/{file_id}/shares",                 clean_file,                 401, 403, 200, 200, 404, 404, 404, 404),
    row("PUT",    "/api/v1/files/{file_id}/shares/{user_id}",       clean_share_sam,            401, 403, 200, 200, 404, 404, 404, 404),
    row("DELETE", "/api/v1/files/{file_id}/shares/{user_id}",       clean_share_hank,           401, 403, 204, 204, 404, 404, 404, 404),
    row("GET",    "/api/v1/files/{file_id}/links",                  clean_file,                 401, 403, 200, 200, 404, 404, 404, 404),
    row("POST",   "/api/v1/files/{file_id}/links",                  clean_new_link,             401, 403, 201, 201, 404, 404, 404, 404),
    row("DELETE", "/api/v1/files/{file_id}/links/{link_id}",        clean_link,                 401, 403, 204, 204, 404, 404, 404, 404),
    # redeeming a people link: any account of contoso but a guest; eve is of another
    # organisation (403, as the link's other routes answer her). The link routes that
    # work without an account are in PUBLIC_ROUTES (tests/files/sharing).
    row("POST",   "/api/v1/files/links/{token}/redeem",             clean_link_token,           401, 403, 200, 200, 200, 200, 200, 403),
    # quarantine: security and global admins
    row("GET",    "/api/admin/quarantine",                          nothing,                    401, 403, 403, 200, 200, 403, 403, 200),
    row("POST",   "/api/admin/quarantine/{version_id}",             quarantine_rescan,          401, 403, 403, 200, 200, 403, 403, 404),
    row("GET",    "/api/admin/quarantine/{version_id}/content",     quarantined,                401, 403, 403, 200, 200, 403, 403, 404),
    # recordings whose post-processing waits or failed: global admins look and retry
    row("GET",    "/api/admin/recordings",                          nothing,                    401, 403, 403, 200, 403, 403, 403, 200),
    row("POST",   "/api/admin/recordings/{recording_id}/retry",     failed_recording,           401, 403, 403, 200, 403, 403, 403, 404),
    # alerts: global, security and compliance admins read them; compliance admins do not resolve
    row("GET",    "/api/admin/alerts",                              nothing,                    401, 403, 403, 200, 200, 200, 403, 200),
    row("GET",    "/api/admin/alerts/{alert_id}",                   contoso_alert,              401, 403, 403, 200, 200, 200, 403, 404),
    row("POST",   "/api/admin/alerts/{alert_id}/resolve",           alert_resolved,             401, 403, 403, 200, 200, 403, 403, 404),
)
# fmt: on

#: the problem type each error status of the matrix must carry
PROBLEM_TYPES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    503: "media-unavailable",
}


def matrix_routes() -> set[tuple[str, str]]:
    return {r.route for r in MATRIX}


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def as_missing(req: Req) -> Req:
    """The same request with every id replaced by one that exists nowhere."""
    params = {
        k: str(uuid.uuid4()) if _UUID.match(v) else ("missing.example" if k == "domain" else v)
        for k, v in req.params.items()
    }
    return replace(req, params=params)


def without_ids(text: str, req: Req) -> str:
    for v in req.params.values():
        text = text.replace(v, "<id>")
    return text
