"""The S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...), through aioboto3.

It sees what ``LocalStore`` sees: opaque keys (ids) and ciphertext, nothing else: no file
names, no metadata. ``put`` streams: a body smaller than one part is one PutObject, a larger
one a multipart upload that buffers at most one part, so a 2 GB file never sits in memory;
the object appears only when the upload completes. A failed or cancelled multipart upload
is aborted; if the store is down and even the abort fails, the upload is remembered and
aborted by the next ``put`` or ``check`` (a bucket lifecycle rule covers a process that
died meanwhile, see docs/storage.md). ``read`` fetches bounded windows with ranged GETs.

Every failure of the store (unreachable, timeouts, 5xx, access denied, missing bucket) is
``StorageUnavailable`` (503) with a message that names the endpoint and bucket, never a
credential; a missing object is ``ObjectMissing``. Timeouts and retries are small: a store
that is down fails a request within seconds.

A client is opened per operation (a few milliseconds): nothing outlives an event loop, so
the CLI's ``asyncio.run`` and the server's loop share one store safely, and there is
nothing to close.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aioboto3 import Session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from overleg.files.storage import READ_BLOCK, ObjectMissing, StorageUnavailable, check_key
from overleg.kernel.errors import ConfigurationError

if TYPE_CHECKING:
    from overleg.settings import Settings

T = TypeVar("T")

MiB = 1024 * 1024
#: S3's smallest part (all but the last); a body below ``part_size`` is one PutObject
MIN_PART = 5 * MiB
#: a little above a sealed 8 MiB file part (8 MiB and its tags): those go in one PutObject
PART = 9 * MiB
#: S3 allows 10,000 parts: every 1,000 parts the part size grows by ``part_size``, so an
#: upload can reach 55 x 1,000 parts' worth (about 480 GiB at 9 MiB) instead of 90 GiB
PARTS_PER_STEP = 1000
#: bytes fetched per ranged GET
WINDOW = 8 * MiB
#: seconds to connect, to wait for an answer, and attempts per request (1 = no retry)
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 20.0
ATTEMPTS = 2
#: how long aborting a failed upload may take before it is left for later
ABORT_WITHIN = 10.0
#: failed aborts remembered for a retry (beyond that: the bucket's lifecycle rule)
MAX_ORPHANS = 1000

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^([A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]*$")
_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AccountProblem",
}
_NETWORK = (BotoCoreError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def check_settings(settings: Settings) -> None:
    """``ConfigurationError`` (one line) unless the ``s3_*`` settings make sense."""
    bucket, prefix, url = settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigurationError(
            f"OVERLEG_S3_BUCKET {bucket!r} is not a bucket name (3-63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit)"
        )
    if prefix.startswith("/") or not _PREFIX.match(prefix) or ".." in prefix.split("/"):
        raise ConfigurationError(
            f"OVERLEG_S3_PREFIX {prefix!r} is not a key prefix (letters, digits, '_', '-', "
            "'.', parts separated by single '/', no leading '/', e.g. 'prod/')"
        )
    if url is not None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                "OVERLEG_S3_ENDPOINT_URL must be an http(s) URL such as https://s3.example.net"
            )
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError(
                "OVERLEG_S3_ENDPOINT_URL must not carry credentials: use "
                "OVERLEG_S3_ACCESS_KEY_ID and OVERLEG_S3_SECRET_ACCESS_KEY"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigurationError(
                "OVERLEG_S3_ENDPOINT_URL must be the service's base URL (no path or query); "
                "the bucket goes in OVERLEG_S3_BUCKET"
            )
    if not settings.s3_region.strip():
        raise ConfigurationError("OVERLEG_S3_REGION must not be empty")
    if (settings.s3_access_key_id is None) != (settings.s3_secret_access_key is None):
        raise ConfigurationError(
            "set both OVERLEG_S3_ACCESS_KEY_ID and OVERLEG_S3_SECRET_ACCESS_KEY, or neither "
            "(to use the environment's credentials, e.g. an instance role)"
        )


class _Part:
    """The bytes of one request body being gathered, and their MD5. A file-like body is sent
    in pieces (bytes over 1 MB would block the event loop); Content-MD5 lets the store
    check what it received, and buckets with object lock require it."""

    def __init__(self) -> None:
        self.body = io.BytesIO()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.body.write(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)

    def request(self) -> dict[str, Any]:
        self.body.seek(0)
        return {"Body": self.body, "ContentMD5": base64.b64encode(self.md5.digest()).decode()}


class S3Store:
    """Objects in ``bucket`` under ``prefix + key``. Implements ``ObjectStore``."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        part_size: int = PART,
        window: int = WINDOW,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        attempts: int = ATTEMPTS,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes (S3's minimum)")
        if window < 1:
            raise ValueError("window must be positive")
        self.bucket = bucket
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.region = region
        self.prefix = prefix
        self.part_size = part_size
        self.window = window
        self._session = Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
            signature_version="s3v4",
            # S3-compatible stores route by path; bucket names in host names need their DNS
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # the newer default (CRC trailers on every upload) is not understood by every
            # S3-compatible store; integrity comes from the AEAD of the sealed chunks
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        #: multipart uploads whose abort failed: (object name, upload id), oldest first
        self._orphans: dict[tuple[str, str], None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        """The store the ``s3_*`` settings describe; ``ConfigurationError`` if they are wrong.
        Nothing is contacted yet (``check`` does)."""
        check_settings(settings)
        key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
        return cls(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region.strip(),
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
        )

    @property
    def location(self) -> str:
        """Where the objects are, for people (no credentials in it)."""
        where = self.endpoint_url or f"AWS S3 ({self.region})"
        return f"{where} bucket {self.bucket} prefix {self.prefix or '(none)'}"

    def _object(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _client(self) -> Any:
        return self._session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=self._config
        )

    # -- errors ------------------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        """A failure of the store as a 503 whose message names no credential (only our own
        words and S3's short error code, never the library's message)."""
        where = f"The object store ({self.location})"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return StorageUnavailable(f"{where}: the bucket does not exist.")
            if code in _DENIED or status in (401, 403):
                return StorageUnavailable(
                    f"{where} refused access: check the access key, the secret and the "
                    "bucket policy."
                )
            # S3's short error code; HEAD answers have no body, only a status
            shown = re.sub(r"[^A-Za-z0-9.]", "", code)[:40]
            if not shown or shown.isdigit():
                shown = f"HTTP {status or shown}"
            return StorageUnavailable(f"{where} failed: {shown}.")
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | asyncio.TimeoutError):
            return StorageUnavailable(f"{where} did not answer in time.")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StorageUnavailable(f"{where}: no credentials are configured.")
        return StorageUnavailable(f"{where} cannot be reached.")

    async def _call(self, request: Awaitable[T]) -> T:
        """Await one S3 request; every failure of the store becomes ``StorageUnavailable``."""
        try:
            return await request
        except (ClientError, *_NETWORK) as exc:
            raise self._unavailable(exc) from exc

    @staticmethod
    def _code(exc: ClientError) -> tuple[str, int | None]:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(exc.response.get("Error", {}).get("Code", "")), status

    async def _missing_object(self, s3: Any, key: str) -> Exception:
        """A 404 to HEAD has no body: ask whether the bucket is there before calling the
        object missing."""
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except ClientError as bucket_exc:
            if self._code(bucket_exc)[1] == 404:
                return StorageUnavailable(
                    f"The object store ({self.location}): the bucket does not exist."
                )
            return self._unavailable(bucket_exc)
        except _NETWORK as bucket_exc:
            return self._unavailable(bucket_exc)
        return ObjectMissing(f"No stored object {key}.")

    # -- ObjectStore ---------------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        name = self._object(key)
        async with self._client() as s3:
            await self._abort_orphans(s3)
            buf = _Part()
            total = 0
            upload: str | None = None
            parts: list[dict[str, Any]] = []
            try:
                async for chunk in chunks:
                    buf.write(chunk)
                    total += len(chunk)
                    if buf.size >= self.part_size * (1 + len(parts) // PARTS_PER_STEP):
                        if upload is None:
                            created = await self._call(
                                s3.create_multipart_upload(Bucket=self.bucket, Key=name)
                            )
                            upload = str(created["UploadId"])
                        parts.append(await self._part(s3, name, upload, len(parts) + 1, buf))
                        buf = _Part()  # the sent part is freed
                if upload is None:
                    await self._call(s3.put_object(Bucket=self.bucket, Key=name, **buf.request()))
                    return total
                if buf.size:
                    parts.append(await self._part(s3, name, upload, len(parts) + 1, buf))
                await self._call(
                    s3.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload,
                        MultipartUpload={"Parts": parts},
                    )
                )
                return total
            except BaseException:
                if upload is not None:
                    await self._abandon(s3, name, upload)
                raise

    async def _part(
        self, s3: Any, name: str, upload: str, number: int, part: _Part
    ) -> dict[str, Any]:
        sent = await self._call(
            s3.upload_part(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload,
                PartNumber=number,
                **part.request(),
            )
        )
        return {"ETag": sent["ETag"], "PartNumber": number}

    async def _abandon(self, s3: Any, name: str, upload: str) -> None:
        """Abort a failed upload (its parts are deleted); if that fails too, remember it for
        the next ``put`` or ``check``. Never raises (the upload's own error matters)."""
        self._orphans[(name, upload)] = None
        while len(self._orphans) > MAX_ORPHANS:
            del self._orphans[next(iter(self._orphans))]
        # best effort: if it fails, it stays in _orphans for a retry
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._abort(s3, name, upload), ABORT_WITHIN)

    async def _abort(self, s3: Any, name: str, upload: str) -> None:
        try:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)
        except ClientError as exc:
            if self._code(exc)[0] != "NoSuchUpload":  # already gone: done
                raise
        self._orphans.pop((name, upload), None)

    async def _abort_orphans(self, s3: Any) -> None:
        """Retry the aborts that failed, oldest first; stop at the first failure (the store
        is still down: the caller's request will say so)."""
        for name, upload in list(self._orphans):
            try:
                await asyncio.wait_for(self._abort(s3, name, upload), ABORT_WITHIN)
            except Exception:
                return

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        name = self._object(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError("byte positions are not negative")
        if end is not None and end <= start:
            await self.size(key)  # nothing to read, but the object must exist
            return
        async with self._client() as s3:
            pos = start
            etag: str | None = None
            while end is None or pos < end:
                stop = pos + self.window if end is None else min(end, pos + self.window)
                got = await self._get(s3, key, name, pos, stop, etag)
                if got is None:  # ``start`` is at or past the end of the object
                    return
                response, first, size = got
                etag = response["ETag"]
                offset = first  # position of the next byte of the body
                body = response["Body"]
                async with body:
                    while offset < stop:
                        block = await self._call(body.read(READ_BLOCK))
                        if not block:
                            break
                        # a store that ignored the range sends more: keep [pos, stop) only
                        piece = block[max(0, pos - offset) : max(0, stop - offset)]
                        offset += len(block)
                        if piece:
                            pos += len(piece)
                            yield piece
                if pos >= size:
                    return
                if pos < stop:
                    raise StorageUnavailable(
                        f"The object store ({self.location}) sent {key} cut short."
                    )

    async def _get(
        self, s3: Any, key: str, name: str, pos: int, stop: int, etag: str | None
    ) -> tuple[dict[str, Any], int, int] | None:
        """One ranged GET of ``[pos, stop)``: (response, offset of its first byte, object
        size), or None when ``pos`` is past the end. Later windows must be of the same
        object (``If-Match``): a replaced object is never read half old, half new."""
        extra = {"IfMatch": etag} if etag else {}
        try:
            response: dict[str, Any] = await s3.get_object(
                Bucket=self.bucket, Key=name, Range=f"bytes={pos}-{stop - 1}", **extra
            )
        except ClientError as exc:
            code, _status = self._code(exc)
            if code == "NoSuchKey":
                raise ObjectMissing(f"No stored object {key}.") from exc
            if code == "InvalidRange":
                return None
            if code == "PreconditionFailed":
                raise StorageUnavailable(
                    f"{key} was replaced while it was read; read it again."
                ) from exc
            raise self._unavailable(exc) from exc
        except _NETWORK as exc:
            raise self._unavailable(exc) from exc
        found = re.match(r"bytes (\d+)-\d+/(\d+)$", str(response.get("ContentRange", "")))
        if found:
            return response, int(found[1]), int(found[2])
        # no range in the answer: the whole object, from its first byte
        return response, 0, int(response["ContentLength"])

    async def size(self, key: str) -> int:
        name = self._object(key)
        async with self._client() as s3:
            try:
                head = await s3.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if self._code(exc)[1] == 404:
                    raise await self._missing_object(s3, key) from exc
                raise self._unavailable(exc) from exc
            except _NETWORK as exc:
                raise self._unavailable(exc) from exc
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        name = self._object(key)
        async with self._client() as s3:
            await self._call(s3.delete_object(Bucket=self.bucket, Key=name))

    # -- operations ----------------------------------------------------------------------------

    async def check(self) -> None:
        """``StorageUnavailable`` unless the bucket is reachable with these credentials.
        Also retries the aborts of failed uploads."""
        async with self._client() as s3:
            try:
                await s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if self._code(exc)[1] == 404:
                    raise StorageUnavailable(
                        f"The object store ({self.location}): the bucket does not exist."
                    ) from exc
                raise self._unavailable(exc) from exc
            except _NETWORK as exc:
                raise self._unavailable(exc) from exc
            await self._abort_orphans(s3)

    @property
    def pending_aborts(self) -> int:
        """Failed uploads whose abort is still to be retried."""
        return len(self._orphans)
