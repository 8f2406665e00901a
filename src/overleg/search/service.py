"""Searching messages (and files): parse the query, resolve its filters, run it, return
hits.

The caller (the messaging service) decides who may search, computes what the searcher may
read (``readable``: containers and, per container, the moment from which its history is
visible), audits the request and turns hits into messages. This module only guarantees
that no hit lies outside ``readable``: another container, an earlier message than its
``since``, or another tenant's index.

Queries with no word or phrase to find (only ``NOT`` terms and filters): with at least one
filter (``from:``, ``in:``, ``before:``, ``after:``, ``has:attachment``) they list the
matching readable messages, newest first, minus the NOT terms (``from:mia -lunch``). With
no filter either (``-lunch`` alone, or an empty query) they are refused with
``ValidationFailed``: that would list everything the searcher may read.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from overleg.kernel.errors import ValidationFailed
from overleg.search import engine
from overleg.search.blind import blind_term
from overleg.search.index import from_micros, to_micros
from overleg.search.keys import check_scope, search_key
from overleg.search.query import Atom, Query, parse
from overleg.search.schemas import Readable, SearchHit
from overleg.search.text import normalise

MAX_LIMIT = 200


async def search_messages(
    db: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    query: str,
    readable: Sequence[Readable],
    resolve_person: Callable[[str], Awaitable[list[uuid.UUID]]],
    limit: int = 50,
) -> list[SearchHit]:
    """The newest ``limit`` readable messages of the tenant that match ``query``.

    ``resolve_person`` turns a ``from:`` value into the ids of the people it names (none:
    the filter matches nothing). ``ValidationFailed`` for a bad query or limit.
    """
    return await _search(db, "message", tenant_id, query, readable, resolve_person, limit)


async def search_files(
    db: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    query: str,
    readable: Sequence[Readable],
    resolve_person: Callable[[str], Awaitable[list[uuid.UUID]]],
    limit: int = 50,
) -> list[SearchHit]:
    """The newest ``limit`` indexed files in ``readable`` containers that match ``query``
    (by name and text), like :func:`search_messages`: a hit's ``message_id`` is the file's
    id, ``from:`` is its uploader, dates are its upload time."""
    return await _search(db, "file", tenant_id, query, readable, resolve_person, limit)


async def _search(
    db: AsyncSession,
    kind: str,
    tenant_id: uuid.UUID,
    query: str,
    readable: Sequence[Readable],
    resolve_person: Callable[[str], Awaitable[list[uuid.UUID]]],
    limit: int,
) -> list[SearchHit]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}")
    q = parse(query)
    if not q.required and not q.has_filters:
        raise ValidationFailed(
            "search query: nothing to search for; give a word, a phrase or a filter "
            "(NOT terms alone are not enough)"
        )
    check_scope(db, tenant_id)

    containers = _places(readable, q.places)
    if not containers:
        return []
    authors: tuple[uuid.UUID, ...] | None = None
    if q.authors:
        found: dict[uuid.UUID, None] = {}
        for value in q.authors:
            found.update(dict.fromkeys(await resolve_person(value)))
        if not found:
            return []
        authors = tuple(found)
    from_us, until_us = _range(q)
    if from_us is not None and until_us is not None and from_us >= until_us:
        return []

    key = await search_key(db, tenant_id, create=False)
    if key is None:
        return []  # nothing of this tenant was ever indexed

    def blind(atom: Atom) -> engine.BlindAtom:
        return engine.BlindAtom(tuple((off, blind_term(key, term)) for off, term in atom.terms))

    criteria = engine.Criteria(
        tenant_id=tenant_id,
        required=tuple(tuple(blind(a) for a in g.atoms) for g in q.required),
        excluded=tuple(blind(a) for a in q.excluded),
        containers=containers,
        authors=authors,
        from_us=from_us,
        until_us=until_us,
        has_attachment=q.has_attachment,
        kind=kind,
    )
    rows = await engine.run(db, criteria, limit)
    return [
        SearchHit(r.message_id, r.container_type, r.container_id, from_micros(r.created_us))
        for r in rows
    ]


def _name_key(name: str) -> str:
    return " ".join(normalise(name).split())


def _places(
    readable: Sequence[Readable], places: Sequence[str]
) -> dict[uuid.UUID, tuple[str, int | None]]:
    """container id -> (type, since in microseconds): the readable containers, narrowed to
    those with a name equal (case- and accent-insensitively) to an ``in:`` value."""
    wanted = {_name_key(p) for p in places}
    out: dict[uuid.UUID, tuple[str, int | None]] = {}
    for r in readable:
        if wanted and not any(_name_key(n) in wanted for n in r.names):
            continue
        since = None if r.since is None else to_micros(r.since)
        seen = out.get(r.container_id)
        # Listed twice: the wider view wins (the caller granted both).
        if seen is not None and (seen[1] is None or (since is not None and seen[1] <= since)):
            continue
        out[r.container_id] = (r.container_type, since)
    return out


def _range(q: Query) -> tuple[int | None, int | None]:
    """``after:D`` -> from the start of the next day; ``before:D`` -> until D starts (UTC)."""
    from_us = until_us = None
    if q.after is not None:
        day = q.after + timedelta(days=1) if q.after < date.max else q.after
        from_us = to_micros(datetime.combine(day, time(), UTC))
        if q.after == date.max:
            from_us += 86_400_000_000  # after the last day there is nothing
    if q.before is not None:
        until_us = to_micros(datetime.combine(q.before, time(), UTC))
    return from_us, until_us
