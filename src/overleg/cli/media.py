"""``overleg media``: the configuration of a private Janus instance, and a check of the
configured ones."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import typer
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from overleg.cli.common import fail, row
from overleg.meetings.media.config import janus_config, new_secret, primary_address, write_config
from overleg.settings import MEDIA_SECRETS_FILE, Settings, read_media_secrets

app = typer.Typer(help="Meetings' audio and video (Janus).", no_args_is_help=True)

#: the secrets kept in ``MEDIA_SECRETS_FILE`` (the first two also come from the settings)
SECRET_KEYS = ("api_secret", "admin_key", "admin_secret")
SUBPROTOCOL = Subprotocol("janus-protocol")


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as e:
        raise fail(f"settings are not valid: {str(e).splitlines()[0]}") from None


def _write_secrets_file(path: Path, secrets: dict[str, str]) -> None:
    """Replace ``path`` with ``secrets`` as JSON, readable by its owner only from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(secrets, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _secrets(settings: Settings) -> tuple[dict[str, str], Path | None]:
    """The three secrets: from the settings (environment) first, then the secrets file;
    what neither has is generated once and added to the file (returned as written)."""
    path = settings.data_dir / MEDIA_SECRETS_FILE
    try:
        stored = read_media_secrets(settings.data_dir)
    except ValueError as e:
        raise fail(str(e)) from None
    values: dict[str, str] = {}
    missing = False
    for key in SECRET_KEYS:
        configured = _configured(settings, key)
        if configured is not None:
            values[key] = configured
        elif stored.get(key):
            values[key] = stored[key]
        else:
            # generated once: a second run (and the server, via the settings) reuses it
            stored[key] = values[key] = new_secret()
            missing = True
    if missing:
        _write_secrets_file(path, stored)
        return values, path
    return values, None


@app.command("config")
def config(
    out: Path = typer.Option(..., "--out", help="folder for the jcfg files (created, mode 0700)"),
    name: str = typer.Option("j1", "--name", help="the instance's server_name"),
    ws_port: int = typer.Option(18188, "--ws-port", help="WebSocket API port on 127.0.0.1"),
    admin_ws_port: int | None = typer.Option(
        None, "--admin-ws-port", help="admin API port on 127.0.0.1 (default: no admin API)"
    ),
    public_address: str | None = typer.Option(
        None, "--public-address", help="address announced in ICE when behind a 1:1 NAT"
    ),
    rtp_port_range: str | None = typer.Option(
        None, "--rtp-port-range", help="UDP ports for media, e.g. 20000-40000"
    ),
) -> None:
    """Write the configuration of one private Janus instance into ``--out``.

    Start it with ``janus -C OUT/janus.jcfg -F OUT``. The secrets come from
    OVERLEG_MEDIA_API_SECRET / OVERLEG_MEDIA_ADMIN_KEY, else from <data_dir>/media-secrets.json,
    which is created (mode 0600) the first time and reused afterwards."""
    settings = _settings()
    try:
        ice_address = settings.media_ice_address or primary_address()
    except OSError as e:
        raise fail(f"no address for ICE (set OVERLEG_MEDIA_ICE_ADDRESS): {e}") from None
    assert settings.media_recordings_dir is not None
    recordings = settings.media_recordings_dir
    folder = out.resolve()

    def build(secrets: dict[str, str]) -> dict[str, str]:
        return janus_config(
            name=name,
            ws_port=ws_port,
            admin_ws_port=admin_ws_port,
            api_secret=secrets["api_secret"],
            admin_key=secrets["admin_key"],
            admin_secret=secrets["admin_secret"],
            ice_address=ice_address,
            # Janus compares real paths with its protected folders
            recordings_dir=os.path.realpath(recordings),
            configs_folder=folder,
            public_address=public_address,
            rtp_port_range=rtp_port_range,
        )

    try:
        # the input is checked before anything is generated or written: bad input changes
        # nothing (stand-ins take the place of secrets not configured yet)
        build({key: _configured(settings, key) or new_secret() for key in SECRET_KEYS})
    except ValueError as e:
        raise fail(str(e)) from None
    secrets, secrets_path = _secrets(settings)
    try:
        files = build(secrets)
    except ValueError as e:  # a hand-edited secrets file
        raise fail(f"{settings.data_dir / MEDIA_SECRETS_FILE}: {e}") from None
    if secrets_path is not None:
        typer.echo(f"wrote {secrets_path}")
    recordings.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in write_config(folder, files):
        typer.echo(f"wrote {path}")


def _configured(settings: Settings, key: str) -> str | None:
    """The secret set in the settings (environment or secrets file), if any."""
    value = {"api_secret": settings.media_api_secret, "admin_key": settings.media_admin_key}.get(
        key
    )
    return value.get_secret_value() if value is not None else None


async def _probe(url: str, api_secret: str | None, seconds: float) -> str:
    """The version of the Janus at ``url``, after checking that it accepts ``api_secret``
    (``info`` alone is answered without it: a session is created and destroyed)."""
    auth = {"apisecret": api_secret} if api_secret is not None else {}

    async with asyncio.timeout(seconds):
        async with connect(url, subprotocols=[SUBPROTOCOL], open_timeout=None) as ws:

            async def call(message: dict[str, object]) -> dict[str, object]:
                transaction = uuid.uuid4().hex
                await ws.send(json.dumps({**message, **auth, "transaction": transaction}))
                while True:
                    answer = json.loads(await ws.recv())
                    if answer.get("transaction") == transaction:
                        if answer.get("janus") == "error":
                            error = answer.get("error") or {}
                            raise RuntimeError(f"{error.get('code')} {error.get('reason')}")
                        return dict(answer)

            info = await call({"janus": "info"})
            session = await call({"janus": "create"})
            data = session.get("data")
            session_id = data.get("id") if isinstance(data, dict) else None
            await call({"janus": "destroy", "session_id": session_id})
            return str(info.get("version_string", "?"))


@app.command("check")
def check(
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="seconds per instance"),
) -> None:
    """Connect to each configured Janus (OVERLEG_MEDIA_JANUS) with the api_secret and print
    name, version and OK or FAILED; exit 1 if any failed or none is configured."""
    settings = _settings()
    if not settings.media_janus:
        raise fail("no Janus instance configured (OVERLEG_MEDIA_JANUS): meetings have no media")
    secret = settings.media_api_secret
    api_secret = secret.get_secret_value() if secret is not None else None

    async def probe_all() -> list[BaseException | str]:
        return await asyncio.gather(
            *(_probe(s.url, api_secret, timeout) for s in settings.media_janus),
            return_exceptions=True,
        )

    failed = False
    for server, result in zip(settings.media_janus, asyncio.run(probe_all()), strict=True):
        if isinstance(result, str):
            row(server.name, server.url, result, "OK")
        else:
            failed = True
            reason = (
                "timed out" if isinstance(result, TimeoutError) else str(result) or repr(result)
            )
            row(server.name, server.url, "-", f"FAILED: {reason.splitlines()[0]}")
    if failed:
        raise typer.Exit(code=1)
