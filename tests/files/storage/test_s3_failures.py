"""The S3 store when things go wrong: a source that breaks, a cancelled upload, the store
down (before and during an upload), a store that never answers, one that refuses, a missing
bucket, an object replaced while it is read. Every failure of the store is a quick 503 that
names no credential; nothing is half-written, and no upload is left behind once the store
is back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from overleg.files.storage import ObjectMissing, StorageUnavailable
from overleg.files.storage_s3 import MIN_PART, S3Store
from tests.fixtures.s3 import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    RefusingEndpoint,
    S3Bucket,
    TcpProxy,
)

#: a failing store must answer within this (a bound, not a wait): refused connections
#: and small timeouts take well under a second or two here
FAILS_WITHIN = 10.0
PIECE = 256 * 1024


async def source(
    size: int, *, on: int | None = None, then: Callable[[], Any] | None = None
) -> AsyncIterator[bytes]:
    """``size`` bytes in PIECE chunks; ``then()`` runs once ``on`` bytes have been taken
    (it may raise, take the store down, or wait forever)."""
    taken = 0
    while taken < size:
        if on is not None and then is not None and taken >= on:
            result = then()
            if isinstance(result, Awaitable):
                await result
            on = None
        n = min(PIECE, size - taken)
        taken += n
        yield bytes([taken % 251]) * n


def no_secret(exc: StorageUnavailable) -> None:
    text = f"{exc} {exc.detail} {exc!r}"
    assert SECRET_ACCESS_KEY not in text
    assert ACCESS_KEY_ID not in text
    assert exc.status == 503


async def all_fail(store: S3Store, match: str) -> None:
    """Every operation is a ``StorageUnavailable`` matching ``match``, each one quickly."""

    async def read() -> None:
        async for _ in store.read("t/x"):
            pass

    async def one_byte() -> AsyncIterator[bytes]:
        yield b"x"

    operations: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.put("t/x", one_byte()),
        lambda: store.put("t/big", source(MIN_PART + PIECE)),
        read,
        lambda: store.size("t/x"),
        lambda: store.delete("t/x"),
        store.check,
    ]
    for op in operations:
        began = time.monotonic()
        with pytest.raises(StorageUnavailable, match=match) as caught:
            await op()
        assert time.monotonic() - began < FAILS_WITHIN, op
        no_secret(caught.value)


@pytest.mark.parametrize("fail_at", [100_000, 2 * MIN_PART + MIN_PART // 2])
async def test_a_source_that_breaks_leaves_no_object_and_no_upload(
    s3_bucket: S3Bucket, fail_at: int
) -> None:
    """Before the first part (one PutObject, never sent) and after two parts were sent
    (a multipart upload, aborted): the source's own error comes out, nothing stays."""
    store = s3_bucket.store()

    def boom() -> None:
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        await store.put("t/broken", source(4 * MIN_PART, on=fail_at, then=boom))
    assert s3_bucket.keys() == []
    assert s3_bucket.uploads() == []
    assert store.pending_aborts == 0
    with pytest.raises(ObjectMissing):
        await store.size("t/broken")


async def test_a_cancelled_upload_leaves_nothing(s3_bucket: S3Bucket) -> None:
    store = s3_bucket.store()
    stuck = asyncio.Event()

    async def hang() -> None:
        stuck.set()  # the first part has been sent: put asks for more only after that
        await asyncio.Event().wait()

    task = asyncio.create_task(
        store.put("t/cancelled", source(3 * MIN_PART, on=MIN_PART + PIECE, then=hang))
    )
    await asyncio.wait_for(stuck.wait(), FAILS_WITHIN)
    assert len(s3_bucket.uploads()) == 1  # a multipart upload with one part is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert s3_bucket.uploads() == []
    assert s3_bucket.keys() == []
    assert store.pending_aborts == 0


async def test_the_store_down_fails_fast(s3_bucket: S3Bucket, s3_proxy: TcpProxy) -> None:
    store = s3_bucket.store(endpoint=s3_proxy.url)
    await store.check()
    s3_proxy.down()
    await all_fail(store, "cannot be reached")
    s3_proxy.up()
    await store.check()
    assert s3_bucket.keys() == []


async def test_an_outage_during_an_upload_leaves_nothing_after_recovery(
    s3_bucket: S3Bucket, s3_proxy: TcpProxy
) -> None:
    """The store goes away after the first part: the upload fails with a 503, its abort
    cannot reach the store either, so the store remembers it; once the store is back, the
    next put aborts it: no object and no upload of the failed attempt remain."""
    store = s3_bucket.store(endpoint=s3_proxy.url)

    began = time.monotonic()
    with pytest.raises(StorageUnavailable, match="cannot be reached") as caught:
        await store.put("t/failed", source(3 * MIN_PART, on=MIN_PART + PIECE, then=s3_proxy.down))
    assert time.monotonic() - began < FAILS_WITHIN + 10  # the part, then the abort, bounded
    no_secret(caught.value)
    # behind the store's back (moto itself): the upload is still there, no object
    assert len(s3_bucket.uploads()) == 1
    assert s3_bucket.keys() == []
    assert store.pending_aborts == 1

    s3_proxy.up()

    async def small() -> AsyncIterator[bytes]:
        yield b"after the outage"

    assert await store.put("t/next", small()) == 16
    assert s3_bucket.uploads() == []
    assert s3_bucket.keys() == ["t/next"]
    assert store.pending_aborts == 0
    with pytest.raises(ObjectMissing):
        await store.size("t/failed")


async def test_check_also_aborts_what_an_outage_left(
    s3_bucket: S3Bucket, s3_proxy: TcpProxy
) -> None:
    store = s3_bucket.store(endpoint=s3_proxy.url)
    with pytest.raises(StorageUnavailable):
        await store.put("t/failed", source(2 * MIN_PART, on=MIN_PART + PIECE, then=s3_proxy.down))
    assert len(s3_bucket.uploads()) == 1
    s3_proxy.up()
    await store.check()
    assert s3_bucket.uploads() == []
    assert store.pending_aborts == 0


async def test_a_store_that_never_answers_times_out(silent_endpoint: str) -> None:
    store = S3Store(
        "bucket",
        endpoint_url=silent_endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        connect_timeout=0.5,
        read_timeout=0.5,
        attempts=2,
    )
    began = time.monotonic()
    with pytest.raises(StorageUnavailable, match="did not answer in time") as caught:
        await store.size("t/x")
    assert time.monotonic() - began < FAILS_WITHIN
    no_secret(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "match"),
    [
        (403, "AccessDenied", "refused access"),
        (403, "SignatureDoesNotMatch", "refused access"),
        (500, "InternalError", "failed: InternalError|failed: HTTP 500"),
        (503, "SlowDown", "failed: SlowDown|failed: HTTP 503"),
        (404, "NoSuchBucket", "the bucket does not exist"),
    ],
)
async def test_refusals_are_unavailable(
    refusing_endpoint: Callable[[int, str], RefusingEndpoint],
    status: int,
    code: str,
    match: str,
) -> None:
    """A real HTTP server answering every request with one S3 error (HEAD answers have no
    body, hence the status-only alternatives)."""
    endpoint = refusing_endpoint(status, code)
    store = S3Store(
        "bucket",
        endpoint_url=endpoint.url,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        attempts=2,
    )
    await all_fail(store, match)


async def test_server_errors_are_retried_a_bounded_number_of_times(
    refusing_endpoint: Callable[[int, str], RefusingEndpoint],
) -> None:
    endpoint = refusing_endpoint(500, "InternalError")
    store = S3Store(
        "bucket", endpoint_url=endpoint.url, access_key_id="k", secret_access_key="s", attempts=2
    )
    with pytest.raises(StorageUnavailable):
        await store.delete("t/x")
    assert endpoint.requests == 2  # one retry, then the 503


async def test_bodies_carry_their_md5(
    refusing_endpoint: Callable[[int, str], RefusingEndpoint],
) -> None:
    """Content-MD5 on every body: the store checks what it received (and buckets with
    object lock refuse uploads without it)."""
    endpoint = refusing_endpoint(500, "InternalError")
    store = S3Store(
        "bucket", endpoint_url=endpoint.url, access_key_id="k", secret_access_key="s", attempts=1
    )

    async def body() -> AsyncIterator[bytes]:
        yield b"sealed bytes"

    with pytest.raises(StorageUnavailable):
        await store.put("t/x", body())
    [(method, headers, received)] = endpoint.seen
    assert (method, received) == ("PUT", b"sealed bytes")
    md5 = base64.b64encode(hashlib.md5(b"sealed bytes").digest()).decode()
    assert {k.lower(): v for k, v in headers.items()}["content-md5"] == md5


async def test_a_missing_bucket_is_unavailable_not_missing(s3_bucket: S3Bucket) -> None:
    """A 404 for the bucket is a misconfigured store (503), not a missing object (404)."""
    store = S3Store(
        "no-such-bucket-here",
        endpoint_url=s3_bucket.endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    await all_fail(store, "the bucket does not exist")


async def test_an_object_replaced_while_it_is_read(s3_bucket: S3Bucket) -> None:
    """Windows after the first must be of the same object (If-Match): never half old,
    half new."""
    store = s3_bucket.store(window=1000)

    async def old() -> AsyncIterator[bytes]:
        yield b"o" * 5000

    await store.put("t/r", old())
    reader = store.read("t/r")
    assert isinstance(reader, AsyncGenerator)
    first = await anext(reader)
    assert set(first) == {ord("o")}
    s3_bucket.raw.put_object(Bucket=s3_bucket.name, Key="t/r", Body=b"n" * 5000)
    with pytest.raises(StorageUnavailable, match="replaced while it was read"):
        async for block in reader:
            assert set(block) == {ord("o")}
    await reader.aclose()
