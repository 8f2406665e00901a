"""``overleg storage``: a check of the object store that keeps sealed files and recordings."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import typer

from overleg.bootstrap import configure_logging, make_object_store
from overleg.cli.common import fail, row
from overleg.files.storage import LocalStore, ObjectMissing, ObjectStore, StorageUnavailable
from overleg.kernel.errors import ConfigurationError, OverlegError
from overleg.settings import Settings

app = typer.Typer(help="The object store (sealed files and recordings).", no_args_is_help=True)

#: more than one sealed chunk, not a multiple of anything
PROBE_BYTES = 64 * 1024 + 17


def location(store: ObjectStore) -> str:
    """Where the objects are (no credentials)."""
    if isinstance(store, LocalStore):
        return str(store.root)
    from overleg.files.storage_s3 import S3Store

    assert isinstance(store, S3Store)
    return store.location


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def probe(store: ObjectStore) -> None:
    """Put, read back (whole and a range) and delete a random probe object under a key of
    its own; ``StorageUnavailable`` with what went wrong otherwise."""
    if store.name == "s3":
        from overleg.files.storage_s3 import S3Store

        assert isinstance(store, S3Store)
        await store.check()
    key = f"overleg-check-{secrets.token_hex(8)}"
    data = secrets.token_bytes(PROBE_BYTES)
    stored = await store.put(key, _once(data))
    try:
        size = await store.size(key)
        whole = b"".join([b async for b in store.read(key)])
        middle = b"".join([b async for b in store.read(key, 1000, 70_000)])
        if (stored, size) != (len(data), len(data)) or whole != data or middle != data[1000:70_000]:
            raise StorageUnavailable(
                "The object store did not give back the bytes that were stored in it."
            )
    finally:
        await store.delete(key)
    try:
        await store.size(key)
    except ObjectMissing:
        return
    raise StorageUnavailable("The object store did not delete the probe object.")


@app.command("check")
def check() -> None:
    """Store, read back and delete a probe object in the configured object store; print the
    backend, where it is and OK, or exit 1 with what is wrong."""
    try:
        settings = Settings()
    except Exception as e:
        raise fail(f"settings are not valid: {str(e).splitlines()[0]}") from None
    configure_logging("WARNING")
    try:
        store = make_object_store(settings)
    except ConfigurationError as e:
        raise fail(str(e)) from None
    row("backend:", store.name)
    row("location:", location(store))
    try:
        asyncio.run(probe(store))
    except OverlegError as e:
        raise fail(e.detail) from None
    except OSError as e:
        raise fail(f"the object store cannot be used: {type(e).__name__}: {e.strerror}") from None
    typer.echo("OK")
