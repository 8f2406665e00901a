"""Benchmark 4: the send path of a channel message.

Subject: ``overleg.messaging.service.post_in_channel`` in its own transaction, as a request
runs it: load the channel and the sender's team role (authorize), moderation, the content
gate, Markdown rendering and sanitising, mention resolution, encryption with the tenant's
data key, the search index postings, the audit record and the outbox event, committed.

Baseline: the same message rows (same table, same columns, a body sealed once in advance)
inserted by the ORM in a transaction of their own: none of the above.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.clock import now
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime
from overleg.messaging import service as messaging
from overleg.messaging.models import Message
from overleg.messaging.schemas import MessageCreate
from overleg.security.principal import Principal, PrincipalKind, Role, for_tenant, operator
from overleg.workspace import service as workspace
from overleg.workspace.schemas import TeamCreate
from tests.bench.measure import Comparison, bounded

TEXT = (
    "Quarterly numbers are in: **revenue up 4%**, churn flat. See the draft at "
    "https://intranet.example/q3 and tell me what is missing before Friday."
)


@dataclass
class SendResult:
    comparison: Comparison


async def _setup(rt: Runtime) -> tuple[Principal, uuid.UUID, bytes]:
    op = operator("bench")
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(op, db, TenantCreate(name="Bench", slug="bench-send"))
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        created = await identity.create_user(
            for_tenant(op, tenant.id),
            db,
            UserCreate(
                email="poster@bench.example",
                display_name="Poster",
                password="violet anchor gravel 7391",
            ),
        )
    user = Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        label="poster@bench.example",
        user_id=created.user.id,
        roles=frozenset({Role.MEMBER}),
    )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        team = await workspace.create_team(user, db, TeamCreate(name="Bench team"))
        assert team.general_channel_id is not None
        body = await rt.keys.encrypt(db, tenant.id, TEXT.encode(), b"bench")
    return user, team.general_channel_id, body


async def run(rt: Runtime, *, rounds: int, max_count: int, seconds: float) -> SendResult:
    user, channel_id, sealed = await _setup(rt)
    data = MessageCreate(text=TEXT)

    async def subject() -> int:
        async with rt.database.transaction(tenant_id=user.tenant_id) as db:
            await messaging.post_in_channel(user, db, channel_id, data)
        return 1

    async def baseline() -> int:
        async with rt.database.transaction(tenant_id=user.tenant_id) as db:
            db.add(
                Message(
                    id=new_id(),
                    created_at=now(),
                    tenant_id=user.tenant_id,
                    container_type="channel",
                    container_id=channel_id,
                    author_id=user.user_id,
                    body_enc=sealed,
                    version=1,
                    mentions=[],
                    attachments=[],
                )
            )
        return 1

    result = Comparison()
    await subject()
    await baseline()
    for i in range(rounds):
        pairs = [(subject, result.subject), (baseline, result.baseline)]
        for op, series in pairs if i % 2 == 0 else reversed(pairs):
            series.samples.append(await bounded(op, max_count=max_count, max_seconds=seconds))
    return SendResult(result)
