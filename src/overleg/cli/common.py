"""Shared CLI plumbing: building the runtime, running coroutines, one-line errors."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from overleg.bootstrap import build_runtime, check_schema, configure_logging
from overleg.identity.service import find_tenant
from overleg.kernel.crypto.errors import CryptoError
from overleg.kernel.errors import ConfigurationError, OverlegError
from overleg.kernel.runtime import Runtime
from overleg.security.principal import Principal, operator
from overleg.settings import Settings

T = TypeVar("T")
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str) -> typer.Exit:
    # escape: the message may quote the user's input, which is not console markup
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def row(*fields: object) -> None:
    """Print one tab-separated line of data as is: no console markup (the data is the
    users'), and the tabs stay tabs for ``cut`` (the console would expand them)."""
    typer.echo("\t".join(str(f) for f in fields))


def run(fn: Callable[[Runtime], Awaitable[T]], *, create: bool = False, schema: bool = True) -> T:
    """Build the runtime, check the schema, run ``fn``; turn known errors into one line."""
    try:
        settings = Settings()
    except Exception as e:
        raise fail(f"settings are not valid: {str(e).splitlines()[0]}") from None
    configure_logging("WARNING")

    async def main() -> T:
        rt = build_runtime(settings, create=create)
        try:
            if schema:
                await check_schema(rt.database)
            return await fn(rt)
        finally:
            await rt.database.dispose()

    try:
        return asyncio.run(main())
    except (OverlegError, ConfigurationError) as e:
        raise fail(getattr(e, "detail", None) or str(e)) from None
    except (OSError, CryptoError) as e:
        raise fail(f"{type(e).__name__}: {e}") from None
    except DBAPIError as e:
        raise fail(
            f"database error: {type(e.orig).__name__}: {str(e.orig).splitlines()[0]}"
        ) from None


def me() -> Principal:
    return operator(getpass.getuser())


async def tenant_id(rt: Runtime, slug: str) -> uuid.UUID:
    async with rt.database.transaction(unscoped=True) as db:
        t = await find_tenant(db, slug)
    if t is None:
        raise OverlegError(f"no organisation with short name {slug!r} (see `overleg tenant list`)")
    return t.id
