"""Fixtures of the search tests: two tenants with keys, and a small indexing/search kit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate
from overleg.kernel.runtime import Runtime
from overleg.search.index import index_message, remove_message
from overleg.search.schemas import Readable, SearchDocument, SearchHit
from overleg.search.service import search_messages
from tests.fixtures.world import OPERATOR

#: the first message's time; each further message is a minute later
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Place:
    """A channel or chat the kit writes to."""

    type: str
    id: uuid.UUID
    names: tuple[str, ...]

    def readable(self, since: datetime | None = None) -> Readable:
        return Readable(self.type, self.id, self.names, since)


@dataclass
class Kit:
    """Index messages of one tenant and search them, each in its own transaction."""

    rt: Runtime
    tenant_id: uuid.UUID
    people: dict[str, uuid.UUID] = field(default_factory=dict)
    minute: int = 0

    def person(self, name: str) -> uuid.UUID:
        return self.people.setdefault(name, uuid.uuid4())

    async def post(
        self,
        place: Place,
        text: str,
        *,
        author: str = "mia",
        at: datetime | None = None,
        attachment: bool = False,
        message_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        self.minute += 1
        doc = SearchDocument(
            tenant_id=self.tenant_id,
            message_id=message_id or uuid.uuid4(),
            container_type=place.type,
            container_id=place.id,
            author_id=self.person(author),
            created_at=at or T0 + timedelta(minutes=self.minute),
            has_attachment=attachment,
        )
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            await index_message(db, doc, text)
        return doc.message_id

    async def remove(self, message_id: uuid.UUID) -> None:
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            await remove_message(db, self.tenant_id, message_id)

    async def resolve(self, value: str) -> list[uuid.UUID]:
        """from: resolves a display name (any case) to the kit's person of that name."""
        key = value.strip().lower()
        return [pid for name, pid in self.people.items() if name.lower() == key]

    async def hits(
        self, query: str, readable: Sequence[Readable], *, limit: int = 50
    ) -> list[SearchHit]:
        async with self.rt.database.transaction(tenant_id=self.tenant_id) as db:
            return await search_messages(
                db,
                tenant_id=self.tenant_id,
                query=query,
                readable=readable,
                resolve_person=self.resolve,
                limit=limit,
            )

    async def ids(
        self, query: str, readable: Sequence[Readable], *, limit: int = 50
    ) -> list[uuid.UUID]:
        return [h.message_id for h in await self.hits(query, readable, limit=limit)]


def channel(*names: str) -> Place:
    return Place("channel", uuid.uuid4(), names)


def chat(*names: str) -> Place:
    return Place("chat", uuid.uuid4(), names)


async def new_tenant(rt: Runtime, slug: str) -> uuid.UUID:
    async with rt.database.transaction(unscoped=True) as db:
        created = await identity.create_tenant(
            OPERATOR, db, TenantCreate(name=slug.title(), slug=slug, domain=f"{slug}.example")
        )
    return created.id


@pytest.fixture
async def contoso(rt: Runtime) -> Kit:
    return Kit(rt, await new_tenant(rt, "contoso"))


@pytest.fixture
async def fabrikam(rt: Runtime) -> Kit:
    return Kit(rt, await new_tenant(rt, "fabrikam"))
