"""Running a parsed, blinded query against the index: plan, fetch pages, check, stop.

**Plan.** Every candidate message must have each *required group* (an OR of atoms; an
atom is a word or a phrase). The cheapest way in is chosen per query from size estimates
that one statement computes reading at most :data:`COST_CAP` index entries per term (see
:func:`_costs`):

- *term-driven*: walk the postings of the group's rarest term newest first (its primary
  key range, in order) and probe everything else by primary key; with ``LIMIT`` the walk
  stops as soon as a page is full, so frequent terms are cheap too;
- *OR-driven*: the same over the union of an OR group's terms, when that group is the
  rarest (the union is sorted, so only when it is small);
- *document-driven*: walk the searcher's readable documents (by container and author
  indexes, or newest first) and probe the terms; chosen when the filters and the
  readable containers leave fewer documents than the rarest term has postings, and for
  queries with no required group at all.

**Check.** SQL decides single words, ``OR`` of words, ``NOT word``, and the filters.
Phrases (positions) and, where SQL cannot say it exactly, the readable containers and
their ``since`` are checked here in Python on each fetched page; pages grow (up to
:data:`MAX_PAGE`) until ``limit`` hits are found or the candidates run out.

A group none of whose terms is in the index ends the search at once (nothing can match).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm import join as orm_join

from overleg.search.blind import decode_positions, phrase_matches
from overleg.search.models import IndexedMessage, Posting

COST_CAP = 4_096  # rows counted at most when estimating a term's or the filters' size
FIRST_PAGE_MIN = 64
MAX_PAGE = 4_096
#: readable containers up to this many are filtered in SQL; beyond it only in Python
SQL_CONTAINER_LIMIT = 2_000
#: containers with a ``since`` handled exactly in SQL; beyond it ``since`` is Python's job
SQL_SINCE_LIMIT = 32


@dataclass(frozen=True)
class BlindAtom:
    """An atom with blinded terms: ((offset, term hash), ...)."""

    terms: tuple[tuple[int, bytes], ...]

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(dict.fromkeys(h for _, h in self.terms))

    @property
    def is_phrase(self) -> bool:
        return len(self.terms) > 1


@dataclass(frozen=True)
class Criteria:
    """Everything the engine needs: blinded terms and resolved filters."""

    tenant_id: uuid.UUID
    required: tuple[tuple[BlindAtom, ...], ...]
    excluded: tuple[BlindAtom, ...]
    #: container id -> (container type, since in microseconds or None): the only places
    #: hits may come from (the readable containers, narrowed by ``in:``)
    containers: dict[uuid.UUID, tuple[str, int | None]]
    authors: tuple[uuid.UUID, ...] | None = None
    from_us: int | None = None  # created at or after
    until_us: int | None = None  # created before
    has_attachment: bool = False
    kind: str = "message"  # the kind of document searched: "message" | "file"


@dataclass(frozen=True)
class Row:
    message_id: uuid.UUID
    created_us: int
    container_type: str
    container_id: uuid.UUID


@dataclass
class _Shape:
    """The chosen plan's FROM, ordering and the terms it guarantees."""

    kind: str  # "term" | "any" | "documents"
    order: tuple[Any, Any]  # (created_us column, message_id column) of the driver
    stmt_from: Any
    driver_where: list[ColumnElement[bool]] = field(default_factory=list)
    present: set[bytes] = field(default_factory=set)  # terms every candidate has
    skip_group: int | None = None  # a group every candidate satisfies


async def run(db: AsyncSession, c: Criteria, limit: int) -> list[Row]:
    """The newest ``limit`` messages matching ``c``, newest first."""
    if not c.containers or limit <= 0:
        return []
    d = IndexedMessage
    doc_filters = _document_filters(c)
    costs = await _costs(db, c, doc_filters)
    group_costs = [_group_cost(g, costs) for g in c.required]
    if any(cost == 0 for cost in group_costs):
        return []
    shape = _choose(c, group_costs, costs)

    # Probes correlate with the driver's columns, so that they filter before the document
    # row is looked up (SQLite evaluates a condition at the first loop that has its tables).
    probes = _Probes(c.tenant_id, shape.order)
    where: list[ColumnElement[bool]] = [
        *shape.driver_where,
        d.tenant_id == c.tenant_id,
        *doc_filters.exact,
    ]
    if c.has_attachment:
        where.append(d.has_attachment.is_(True))
    for i, group in enumerate(c.required):
        if i != shape.skip_group:
            cond = probes.group(group, shape.present)
            if cond is not None:
                where.append(cond)
    where += [~probes.has(h) for a in c.excluded if not a.is_phrase for h in a.hashes]

    # Terms whose positions Python needs: groups with a phrase, and negated phrases.
    checked_groups = [g for g in c.required if any(a.is_phrase for a in g)]
    checked_excluded = [a for a in c.excluded if a.is_phrase]
    wanted = list(
        dict.fromkeys(h for g in checked_groups for a in g for h in a.hashes)
        | dict.fromkeys(h for a in checked_excluded for h in a.hashes)
    )
    position_cols = [probes.positions(h).label(f"p{i}") for i, h in enumerate(wanted)]
    index_of = {h: i for i, h in enumerate(wanted)}

    us_col, id_col = shape.order
    source = shape.stmt_from
    if shape.kind != "documents":
        source = orm_join(source, d, and_(d.tenant_id == c.tenant_id, d.message_id == id_col))
    if c.from_us is not None:
        where.append(us_col >= c.from_us)
    if c.until_us is not None:
        where.append(us_col < c.until_us)
    base = (
        select(d.message_id, d.created_us, d.container_type, d.container_id, *position_cols)
        .select_from(source)
        .where(*where)
        .order_by(us_col.desc(), id_col.desc())
    )

    exact = doc_filters.exact_containers and not checked_groups and not checked_excluded
    page = limit if exact else max(limit * 2, FIRST_PAGE_MIN)
    hits: list[Row] = []
    last: tuple[int, uuid.UUID] | None = None
    while True:
        stmt = base
        if last is not None:
            stmt = stmt.where(us_col <= last[0], or_(us_col < last[0], id_col < last[1]))
        rows = (await db.execute(stmt.limit(page))).all()
        for r in rows:
            if not _readable(c, r) or not _positions_ok(
                r, checked_groups, checked_excluded, index_of
            ):
                continue
            hits.append(Row(r.message_id, r.created_us, r.container_type, r.container_id))
            if len(hits) >= limit:
                return hits
        if len(rows) < page:
            return hits
        last = (rows[-1].created_us, rows[-1].message_id)
        page = min(page * 4, MAX_PAGE)


# --- filters and costs -----------------------------------------------------------------


@dataclass
class _DocumentFilters:
    exact: list[ColumnElement[bool]]  # SQL conditions on the document row
    narrowing: list[ColumnElement[bool]]  # the index-backed ones (containers, authors)
    exact_containers: bool  # SQL alone decides readability


def _document_filters(c: Criteria) -> _DocumentFilters:
    """The document kind, readable containers, their ``since`` and ``from:`` as SQL on the
    document row.

    The kind is an exact condition only (no index has it): every plan reads the document
    row anyway, and the size estimates may count the other kind's documents too.

    Every container condition starts with ``container_id IN (all readable)``: an index
    condition both engines use; the exact per-container ``since`` rules are checked on top.
    """
    d = IndexedMessage
    exact: list[ColumnElement[bool]] = [d.kind == c.kind]
    narrowing: list[ColumnElement[bool]] = []
    exact_containers = False
    if len(c.containers) <= SQL_CONTAINER_LIMIT:
        every = d.container_id.in_(list(c.containers))
        narrowing.append(every)
        exact.append(every)
        since = [(cid, s) for cid, (_, s) in c.containers.items() if s is not None]
        if not since:
            exact_containers = True
        elif len(since) <= SQL_SINCE_LIMIT:
            plain = [cid for cid, (_, s) in c.containers.items() if s is None]
            parts: list[ColumnElement[bool]] = [
                and_(d.container_id == cid, d.created_us >= s) for cid, s in since
            ]
            if plain:
                parts.append(d.container_id.in_(plain))
            exact.append(or_(*parts) if len(parts) > 1 else parts[0])
            exact_containers = True
    if c.authors is not None:
        by = d.author_id.in_(c.authors)
        narrowing.append(by)
        exact.append(by)
    return _DocumentFilters(exact, narrowing, exact_containers)


async def _costs(db: AsyncSession, c: Criteria, f: _DocumentFilters) -> dict[bytes | None, int]:
    """Size estimates, from one statement that reads at most :data:`COST_CAP` index entries
    per term: postings per required term (key: the hash) and documents left by the
    narrowing filters (key: None; absent when there is nothing to narrow by).

    A term with fewer than COST_CAP postings gets its exact count. For a more frequent one,
    the age of its COST_CAP-th newest posting measures how dense it is in recent messages
    (the part a newest-first walk reads); scaled to the tenant's whole time span, that is
    its estimate. A document count that reaches the cap is taken as unbounded.
    """
    hashes = list(dict.fromkeys(h for g in c.required for a in g for h in a.hashes))
    if not hashes:
        return {}
    d = IndexedMessage
    members: list[Any] = []
    for i, h in enumerate(hashes):
        newest = (
            select(Posting.created_us)
            .where(Posting.tenant_id == c.tenant_id, Posting.term == h)
            .order_by(Posting.created_us.desc())
            .limit(COST_CAP)
            .subquery()
        )
        members.append(
            select(literal(i), func.count(), func.min(newest.c.created_us)).select_from(newest)
        )
    first = select(func.min(d.created_us)).where(d.tenant_id == c.tenant_id).scalar_subquery()
    last = select(func.max(d.created_us)).where(d.tenant_id == c.tenant_id).scalar_subquery()
    members.append(select(literal(-2), first, last))
    if f.narrowing:
        few = select(literal(1)).where(d.tenant_id == c.tenant_id, *f.narrowing)
        members.append(
            select(literal(-1), func.count(), cast(null(), BigInteger)).select_from(
                few.limit(COST_CAP).subquery()
            )
        )
    rows = {r[0]: (r[1], r[2]) for r in (await db.execute(union_all(*members))).all()}
    lo, hi = rows[-2]
    out: dict[bytes | None, int] = {}
    for i, h in enumerate(hashes):
        n, oldest = rows[i]
        if n < COST_CAP or oldest is None or lo is None or hi is None:
            out[h] = n
        else:
            out[h] = max(COST_CAP, (hi - lo + 1) * COST_CAP // max(hi - oldest + 1, 1))
    if f.narrowing:
        n = rows[-1][0]
        out[None] = n if n < COST_CAP else _UNBOUNDED
    return out


_UNBOUNDED = 2**62


def _group_cost(group: Sequence[BlindAtom], costs: dict[bytes | None, int]) -> int:
    """Candidates a group can yield at most: per atom its rarest term, summed."""
    return sum(min(costs[h] for h in a.hashes) for a in group)


def _choose(c: Criteria, group_costs: list[int], costs: dict[bytes | None, int]) -> _Shape:
    d = IndexedMessage
    documents = _Shape("documents", (d.created_us, d.message_id), stmt_from=d)
    if not c.required:
        return documents
    best = min(range(len(group_costs)), key=lambda i: group_costs[i])
    best_cost = group_costs[best]
    if None in costs and costs[None] < best_cost:
        return documents
    group = c.required[best]
    if len(group) == 1:
        atom = group[0]
        driver = min(atom.hashes, key=lambda h: costs[h])
        p = aliased(Posting, name="drv")
        return _Shape(
            "term",
            (p.created_us, p.message_id),
            stmt_from=p,
            driver_where=[p.tenant_id == c.tenant_id, p.term == driver],
            present={driver},
        )
    if best_cost >= COST_CAP:
        # Frequent alternatives: the union would be sorted in full; walking documents
        # newest first finds hits early instead.
        return documents
    drivers = [min(a.hashes, key=lambda h: costs[h]) for a in group]
    inner = select(Posting.created_us, Posting.message_id).where(
        Posting.tenant_id == c.tenant_id, Posting.term.in_(drivers)
    )
    if c.from_us is not None:
        inner = inner.where(Posting.created_us >= c.from_us)
    if c.until_us is not None:
        inner = inner.where(Posting.created_us < c.until_us)
    union = inner.distinct().subquery("drv")
    all_single = all(not a.is_phrase for a in group)
    return _Shape(
        "any",
        (union.c.created_us, union.c.message_id),
        stmt_from=union,
        skip_group=best if all_single else None,
    )


# --- probes ------------------------------------------------------------------------------


class _Probes:
    """Correlated primary-key probes of the postings for the current candidate, whose
    (created_us, message_id) are the columns ``at``."""

    def __init__(self, tenant_id: uuid.UUID, at: tuple[Any, Any]) -> None:
        self.tenant_id = tenant_id
        self.at = at
        self.n = 0

    def _where(self, h: bytes) -> tuple[Any, list[ColumnElement[bool]]]:
        self.n += 1
        p = aliased(Posting, name=f"t{self.n}")
        return p, [
            p.tenant_id == self.tenant_id,
            p.term == h,
            p.created_us == self.at[0],
            p.message_id == self.at[1],
        ]

    def has(self, h: bytes) -> ColumnElement[bool]:
        _, conds = self._where(h)
        return exists().where(*conds)

    def positions(self, h: bytes) -> Any:
        p, conds = self._where(h)
        return select(p.positions).where(*conds).scalar_subquery()

    def group(self, group: Sequence[BlindAtom], present: set[bytes]) -> ColumnElement[bool] | None:
        """The SQL condition of a group; None when every candidate satisfies it."""
        options: list[ColumnElement[bool]] = []
        for atom in group:
            needed = [self.has(h) for h in atom.hashes if h not in present]
            if not needed:
                return None
            options.append(and_(*needed) if len(needed) > 1 else needed[0])
        return or_(*options) if len(options) > 1 else options[0]


# --- checks in Python ----------------------------------------------------------------------


def _readable(c: Criteria, r: Any) -> bool:
    place = c.containers.get(r.container_id)
    if place is None or place[0] != r.container_type:
        return False
    since = place[1]
    return since is None or r.created_us >= since


def _atom_matches(r: Any, atom: BlindAtom, index_of: dict[bytes, int]) -> bool:
    blobs = [r[4 + index_of[h]] for _, h in atom.terms]
    if any(b is None for b in blobs):
        return False
    if not atom.is_phrase:
        return True
    return phrase_matches(
        [decode_positions(bytes(b)) for b in blobs], [off for off, _ in atom.terms]
    )


def _positions_ok(
    r: Any,
    groups: list[tuple[BlindAtom, ...]],
    excluded: list[BlindAtom],
    index_of: dict[bytes, int],
) -> bool:
    if not all(any(_atom_matches(r, a, index_of) for a in g) for g in groups):
        return False
    return not any(_atom_matches(r, a, index_of) for a in excluded)
