"""Search benchmark: query latency over a large blind index, against a bare lookup.

``python -m tests.bench.search [--postgres] [--messages N] [--quick]`` (not part of
``python -m tests.bench``; call :func:`run` to add it there).

1. **Load**: N messages of synthetic text are indexed through
   ``overleg.search.index.index_messages(..., new=True)`` (bulk INSERTs, :data:`BATCH`
   messages per transaction; ``new``: no look-up of earlier versions, as in a backfill).
   Text: a 30,000-word vocabulary of pseudo-words drawn with a Zipf
   distribution (exponent 1.0, so the commonest word is in most messages and half the
   vocabulary is rare), 3..40 words per message, from a fixed seed: every run indexes the
   same messages. They are spread over :data:`CONTAINERS` channels and chats, busier and
   quieter ones (again Zipf), one message a minute or so over a few years.
2. **Queries**: two-word queries, both words drawn from the text's own distribution but
   below the 20 commonest ranks (function words nobody searches for), searched by a user
   who may read a quarter of the containers (a tenth of those only since some date), with
   ``limit=50``, each in its own read-only session, as a request would.
3. **Baseline**, interleaved query by query: the bare indexed lookup of one of the two
   terms' postings (``SELECT message_id ... WHERE tenant_id=? AND term=? ORDER BY
   created_us DESC LIMIT 50``): the floor any search over this index pays.

Reported: load time and rate, index size, p50/p95/p99 of both. Target: search p95 under
100 ms.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate
from overleg.kernel.runtime import Runtime
from overleg.search.blind import blind_term
from overleg.search.index import index_messages
from overleg.search.keys import search_key
from overleg.search.models import Posting
from overleg.search.schemas import Readable, SearchDocument
from overleg.search.service import search_messages
from overleg.security.principal import operator
from tests.bench.backend import (
    PG_URL,
    Backend,
    make_runtime,
    run_on,
)

BATCH = 2_000
VOCABULARY = 30_000
CONTAINERS = 400
SKIP_COMMONEST = 20
START = datetime(2022, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ms = sorted(s * 1000 for s in seconds)
        q = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(q[49], q[94], q[98], ms[-1])


@dataclass(frozen=True)
class SearchBenchResult:
    backend: str
    messages: int
    postings: int
    index_bytes: int
    load_seconds: float
    queries: int
    search: Latency
    baseline: Latency
    mean_hits: float
    readable_containers: int

    @property
    def load_rate(self) -> float:
        return self.messages / self.load_seconds


class Corpus:
    """Deterministic synthetic messages and queries."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = self._vocabulary()
        weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.cum = list(itertools.accumulate(weights))
        self.places = [uuid.UUID(int=self.rng.getrandbits(128)) for _ in range(CONTAINERS)]
        place_weights = [1 / (rank + 1) ** 0.8 for rank in range(CONTAINERS)]
        self.place_cum = list(itertools.accumulate(place_weights))
        self.authors = [uuid.UUID(int=self.rng.getrandbits(128)) for _ in range(300)]

    def _vocabulary(self) -> list[str]:
        onsets = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"]
        vowels = ["a", "e", "i", "o", "u", "ij", "oe", "aa", "ee"]
        codas = ["", "", "n", "r", "s", "t", "k", "l", "m"]
        seen: dict[str, None] = {}
        while len(seen) < VOCABULARY:
            syllables = self.rng.choice((1, 2, 2, 3, 3, 4))
            word = "".join(
                self.rng.choice(onsets) + self.rng.choice(vowels) + self.rng.choice(codas)
                for _ in range(syllables)
            )
            seen.setdefault(word, None)
        return list(seen)

    def word(self) -> str:
        return self.words[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def content_word(self) -> str:
        while True:
            i = bisect.bisect(self.cum, self.rng.random() * self.cum[-1])
            if i >= SKIP_COMMONEST:
                return self.words[i]

    def message(self, tenant_id: uuid.UUID, n: int) -> tuple[SearchDocument, str]:
        length = self.rng.randint(3, 40)
        words = self.rng.choices(self.words, cum_weights=self.cum, k=length)
        place = self.places[bisect.bisect(self.place_cum, self.rng.random() * self.place_cum[-1])]
        doc = SearchDocument(
            tenant_id=tenant_id,
            message_id=uuid.UUID(int=self.rng.getrandbits(128)),
            container_type="channel" if place.int % 3 else "chat",
            container_id=place,
            author_id=self.rng.choice(self.authors),
            created_at=START + timedelta(seconds=n * 60 + self.rng.randint(0, 59)),
            has_attachment=self.rng.random() < 0.05,
        )
        return doc, " ".join(words).capitalize() + "."

    def readable(self, messages: int) -> list[Readable]:
        """A quarter of the containers; a tenth of those only from halfway through."""
        chosen = self.rng.sample(self.places, CONTAINERS // 4)
        half = START + timedelta(minutes=messages // 2)
        return [
            Readable(
                "channel" if p.int % 3 else "chat",
                p,
                (f"place {i}",),
                since=half if i % 10 == 0 else None,
            )
            for i, p in enumerate(chosen)
        ]


async def _tenant(rt: Runtime) -> uuid.UUID:
    async with rt.database.transaction(unscoped=True) as db:
        created = await identity.create_tenant(
            operator("bench"), db, TenantCreate(name="Bench search", slug="bench-search")
        )
    return created.id


async def load(
    rt: Runtime, corpus: Corpus, tenant_id: uuid.UUID, messages: int, *, progress: bool
) -> float:
    """Index ``messages`` messages; returns the seconds it took."""
    started = time.perf_counter()
    done = 0
    while done < messages:
        n = min(BATCH, messages - done)
        batch = [corpus.message(tenant_id, done + i) for i in range(n)]
        async with rt.database.transaction(tenant_id=tenant_id) as db:
            await index_messages(db, batch, new=True)
        done += n
        if progress and done % (BATCH * 25) == 0:
            rate = done / (time.perf_counter() - started)
            print(f"  indexed {done:,} messages ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    return time.perf_counter() - started


async def _analyze(rt: Runtime) -> None:
    """Refresh planner statistics after the bulk load, as autovacuum would on PostgreSQL
    (on SQLite, as ``PRAGMA optimize`` would)."""
    if rt.database.is_sqlite:
        async with rt.database.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return
    autocommit = rt.database.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        for table in ("search_postings", "search_documents"):
            await conn.execute(text(f"VACUUM ANALYZE {table}"))


async def _postings(rt: Runtime, tenant_id: uuid.UUID) -> int:
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        return int(
            await db.scalar(
                text("SELECT count(*) FROM search_postings")  # the whole table is ours
            )
            or 0
        )


async def _index_bytes(rt: Runtime) -> int:
    """PostgreSQL: the two index tables with their indexes. SQLite: the whole file (the
    rest of the schema is a few pages)."""
    async with rt.database.engine.connect() as conn:
        if rt.database.is_sqlite:
            pages = await conn.scalar(text("PRAGMA page_count"))
            size = await conn.scalar(text("PRAGMA page_size"))
            return int(pages or 0) * int(size or 0)
        total = await conn.scalar(
            text(
                "SELECT pg_total_relation_size('search_postings')"
                " + pg_total_relation_size('search_documents')"
            )
        )
        return int(total or 0)


async def run(
    rt: Runtime,
    *,
    messages: int,
    queries: int = 300,
    seed: int = 20251129,
    progress: bool = False,
) -> SearchBenchResult:
    corpus = Corpus(seed)
    tenant_id = await _tenant(rt)
    load_seconds = await load(rt, corpus, tenant_id, messages, progress=progress)
    await _analyze(rt)
    readable = corpus.readable(messages)
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        key = await search_key(db, tenant_id, create=False)
    assert key is not None

    async def nobody(_value: str) -> list[uuid.UUID]:
        return []

    async def search(q: str) -> int:
        async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
            hits = await search_messages(
                db, tenant_id=tenant_id, query=q, readable=readable, resolve_person=nobody
            )
        return len(hits)

    async def baseline(word: str) -> None:
        async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
            rows = await db.execute(
                select(Posting.message_id)
                .where(Posting.tenant_id == tenant_id, Posting.term == blind_term(key, word))
                .order_by(Posting.created_us.desc())
                .limit(50)
            )
            rows.all()

    pairs = [(corpus.content_word(), corpus.content_word()) for _ in range(queries)]
    for a, b in pairs[:10]:  # warm up (statement caches, pool, pages)
        await search(f"{a} {b}")
        await baseline(a)
    search_s: list[float] = []
    base_s: list[float] = []
    hits = 0
    for i, (a, b) in enumerate(pairs):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            t = time.perf_counter()
            if which == 0:
                hits += await search(f"{a} {b}")
                search_s.append(time.perf_counter() - t)
            else:
                await baseline(a if i % 4 < 2 else b)
                base_s.append(time.perf_counter() - t)
    return SearchBenchResult(
        backend=rt.database.engine.dialect.name,
        messages=messages,
        postings=await _postings(rt, tenant_id),
        index_bytes=await _index_bytes(rt),
        load_seconds=load_seconds,
        queries=queries,
        search=Latency.of(search_s),
        baseline=Latency.of(base_s),
        mean_hits=hits / queries,
        readable_containers=len(readable),
    )


def report(r: SearchBenchResult) -> str:
    def lat(x: Latency) -> str:
        return (
            f"p50 {x.p50_ms:6.1f} ms  p95 {x.p95_ms:6.1f} ms  "
            f"p99 {x.p99_ms:6.1f} ms  max {x.max_ms:6.1f} ms"
        )

    verdict = "within target" if r.search.p95_ms < 100 else "OVER target"
    return "\n".join(
        [
            f"search benchmark on {r.backend}",
            f"  load     {r.messages:,} messages, {r.postings:,} postings in "
            f"{r.load_seconds:,.1f} s ({r.load_rate:,.0f} messages/s), "
            f"{r.index_bytes / 2**20:,.0f} MiB on disk",
            f"  queries  {r.queries} two-word queries, {r.readable_containers} readable "
            f"containers of {CONTAINERS}, {r.mean_hits:.1f} hits on average (limit 50)",
            f"  search   {lat(r.search)}   {verdict} (p95 < 100 ms)",
            f"  baseline {lat(r.baseline)}   (one term's postings, LIMIT 50)",
        ]
    )


async def _main_async(backend: Backend, data_dir: Path, args: argparse.Namespace) -> str:
    rt = make_runtime(backend, data_dir)
    try:
        result = await run(rt, messages=args.messages, queries=args.queries, progress=True)
    finally:
        await rt.database.dispose()
    return report(result)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.search", description=__doc__)
    p.add_argument("--postgres", action="store_true", help=f"run on PostgreSQL ({PG_URL})")
    p.add_argument("--messages", type=int, default=100_000, help="messages to index")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--quick", action="store_true", help="10,000 messages, 100 queries")
    args = p.parse_args(argv)
    if args.quick:
        args.messages, args.queries = 10_000, 100
    print(
        run_on(
            args.postgres,
            "overleg-bench-search-",
            lambda backend, data: _main_async(backend, data, args),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
