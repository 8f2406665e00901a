"""Files over HTTP with the runtime's object store in S3 (moto behind a relay that the test
cuts): the store down refuses a part with 503 and records nothing of it; once the store is
back the upload resumes and completes. The bucket holds ids and ciphertext only. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from overleg.files.storage_s3 import S3Store
from overleg.kernel.runtime import Runtime
from tests.fixtures.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Bucket, TcpProxy
from tests.fixtures.world import World

MARKER = b"salary of the chief executive: CONFIDENTIAL PLAINTEXT MARKER\n"
NAME = "board-salaries-2026.txt"
PART_OBJECT = re.compile(r"^blobs/[0-9a-f-]{36}/[0-9a-f-]{36}/\d+$")


@pytest.fixture
def settings_overrides(s3_bucket: S3Bucket, s3_proxy: TcpProxy) -> dict[str, object]:
    return {
        "storage_backend": "s3",
        "s3_endpoint_url": s3_proxy.url,
        "s3_bucket": s3_bucket.name,
        "s3_access_key_id": ACCESS_KEY_ID,
        "s3_secret_access_key": SECRET_ACCESS_KEY,
    }


async def test_the_runtime_stores_in_s3(rt: Runtime, s3_bucket: S3Bucket) -> None:
    assert isinstance(rt.objects, S3Store)
    assert rt.objects.bucket == s3_bucket.name
    await rt.objects.check()


async def test_upload_refused_with_503_while_the_store_is_down(
    world: World, client: httpx.AsyncClient, s3_bucket: S3Bucket, s3_proxy: TcpProxy
) -> None:
    headers = await world.session_headers("mia")
    data = MARKER * 5000  # ~300 KB: three parts of 128 KiB (the tests' part size)
    r = await client.post(
        "/api/v1/files/uploads",
        headers=headers,
        json={
            "container_type": "user",
            "container_id": str(world.id("mia")),
            "name": NAME,
            "size": len(data),
        },
    )
    assert r.status_code == 201, r.text
    upload = r.json()
    size, url = upload["part_size"], f"/api/v1/files/uploads/{upload['id']}"
    assert upload["parts"] == 3

    def part(n: int) -> bytes:
        return data[n * size : (n + 1) * size]

    r = await client.put(f"{url}/parts/0", headers=headers, content=part(0))
    assert r.status_code == 200, r.text
    stored_before = s3_bucket.keys()
    assert len(stored_before) == 1

    s3_proxy.down()
    r = await client.put(f"{url}/parts/1", headers=headers, content=part(1))
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("storage-unavailable")
    assert SECRET_ACCESS_KEY not in r.text and ACCESS_KEY_ID not in r.text
    r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["received"] == [0]  # the refused part is not counted
    assert s3_bucket.keys() == stored_before  # nor half-written
    assert s3_bucket.uploads() == []

    s3_proxy.up()
    for n in (1, 2):
        r = await client.put(f"{url}/parts/{n}", headers=headers, content=part(n))
        assert r.status_code == 200, r.text
    r = await client.post(f"{url}/complete", headers=headers)
    assert r.status_code == 201, r.text
    file_id = uuid.UUID(r.json()["id"])

    # the bucket: one object per part, named by ids; ciphertext only
    names = s3_bucket.keys()
    assert len(names) == 3
    assert all(PART_OBJECT.match(name) for name in names), names
    assert all(str(file_id) not in name for name in names)
    for name in names:
        raw = s3_bucket.get(name)
        assert MARKER not in raw and b"CONFIDENTIAL" not in raw
        assert NAME.encode() not in raw
        head = s3_bucket.raw.head_object(Bucket=s3_bucket.name, Key=name)
        assert head.get("Metadata") == {}
    assert s3_bucket.uploads() == []

    r = await client.get(f"/api/v1/files/{file_id}/content", headers=headers)
    assert r.status_code == 200, r.text  # the owner may open it before the scan
    assert r.content == data
    r = await client.get(
        f"/api/v1/files/{file_id}/content",
        headers={**headers, "Range": f"bytes={size - 10}-{size + 9}"},
    )
    assert r.status_code == 206, r.text
    assert r.content == data[size - 10 : size + 10]  # across two parts
