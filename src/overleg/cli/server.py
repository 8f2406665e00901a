"""``overleg init`` (first start: data dir, keys, schema, demo organisation) and
``overleg serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from overleg.cli.common import console, me, run
from overleg.cli.db import upgrade_schema
from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.runtime import Runtime
from overleg.security.principal import for_tenant
from overleg.settings import Settings

DEMO = TenantCreate(name="Demo Organisation", slug="demo", domain="demo.example")
DEMO_ADMIN = "admin@demo.example"


def init(
    demo: bool = typer.Option(True, help="create the demo organisation and its admin"),
) -> None:
    """Create the data directory, master key, keyring and schema; on the first run also a
    demo organisation whose admin's one-time password is printed once."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade_schema(settings.db_url)

    async def go(rt: Runtime) -> str | None:
        if not demo:
            return None
        async with rt.database.transaction(unscoped=True) as db:
            if await identity.find_tenant(db, DEMO.slug) is not None:
                return None
            tenant = await identity.create_tenant(me(), db, DEMO)
            op = for_tenant(me(), tenant.id)
            created = await identity.create_user(
                op,
                db,
                UserCreate(
                    email=DEMO_ADMIN, display_name="Demo Admin", admin_roles=["global_admin"]
                ),
            )
            return created.one_time_password

    password = run(go, create=True)
    console.print(f"data directory: {settings.data_dir.resolve()}")
    if password:
        console.print("[bold]Demo organisation created.[/bold] Sign in once with:")
        console.print(f"  e-mail:   {DEMO_ADMIN}")
        console.print(f"  password: {password}   (one-time: you will set your own)")
    else:
        console.print(f"Existing data reused. Sign in as {DEMO_ADMIN} (or another admin).")


def serve(
    host: str | None = typer.Option(None, help="address to listen on (OVERLEG_HOST)"),
    port: int | None = typer.Option(None, help="port (OVERLEG_PORT)"),
    cert: Path | None = typer.Option(None, help="TLS certificate (PEM) to serve HTTPS"),
    key: Path | None = typer.Option(None, help="TLS private key (PEM)"),
) -> None:
    """Serve Overleg (HTTP, or HTTPS with --cert and --key)."""
    import asyncio

    import uvicorn

    from overleg.bootstrap import build_runtime, check_schema, configure_logging
    from overleg.cli.common import fail
    from overleg.main import create_app

    if (cert is None) != (key is None):
        raise fail("give both --cert and --key, or neither")
    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = Settings(**overrides)
    if cert and not (settings.public_base_url or "").startswith("https://"):
        # Served over TLS: cookies must be Secure and HSTS sent, whatever the default URL says.
        overrides["public_base_url"] = f"https://{settings.host}:{settings.port}"
        settings = Settings(**overrides)
    configure_logging(settings.log_level)
    try:
        rt = build_runtime(settings)

        async def checked() -> None:
            try:
                await check_schema(rt.database)
            finally:
                # pooled connections belong to this loop; uvicorn runs the app in another
                await rt.database.dispose()

        asyncio.run(checked())
    except Exception as e:
        raise fail(getattr(e, "detail", None) or str(e)) from None
    scheme = "https" if cert else "http"
    where = f"Overleg is serving on {scheme}://{settings.host}:{settings.port}/"
    if settings.host in ("127.0.0.1", "::1"):
        # browsers allow passkeys (WebAuthn) on a name, not on an IP address
        where += f" - open {scheme}://localhost:{settings.port}/ in a browser"
    console.print(where)
    uvicorn.run(
        create_app(rt),
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        proxy_headers=False,  # client addresses come from our own trusted-proxy rule
        server_header=False,
        log_config=None,
        access_log=False,
    )
