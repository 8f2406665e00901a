"""``overleg scan``: Overleg's private clamd (configuration, start, stop), a check of the
scanner, and signature updates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from overleg.cli.common import fail, row
from overleg.files.scanning import clamd_process, signatures, yara_rules
from overleg.files.scanning.clamd import ClamdClient, ScannerUnavailable
from overleg.settings import Settings

app = typer.Typer(help="Malware scanning of uploads (ClamAV, YARA, macros).", no_args_is_help=True)

STREAM_MAX = typer.Option(
    clamd_process.DEFAULT_STREAM_MAX_BYTES,
    "--stream-max-bytes",
    min=clamd_process.MIN_STREAM_BYTES,
    max=clamd_process.MAX_STREAM_BYTES,
    help="the largest file clamd accepts (StreamMaxLength, MaxFileSize)",
)
TEMP_DIR = typer.Option(
    None, "--temp-dir", help="clamd's spool folder (default <data_dir>/clamd/tmp; a tmpfs is best)"
)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as e:
        raise fail(f"settings are not valid: {str(e).splitlines()[0]}") from None


@app.command("config")
def config(stream_max_bytes: int = STREAM_MAX, temp_dir: Path | None = TEMP_DIR) -> None:
    """Write clamd.conf for Overleg's private clamd and Overleg's own signatures; print the
    configuration's path. Run it with ``clamd -c PATH`` (or use ``overleg scan start``)."""
    settings = _settings()
    try:
        path = clamd_process.write_config(
            settings, stream_max_bytes=stream_max_bytes, temp_dir=temp_dir
        )
    except (OSError, ValueError) as e:
        raise fail(str(e)) from None
    typer.echo(f"wrote {path}")


@app.command("start")
def start(
    stream_max_bytes: int = STREAM_MAX,
    temp_dir: Path | None = TEMP_DIR,
    within: float = typer.Option(
        clamd_process.READY_WITHIN_SECONDS, "--within", min=1, help="seconds to wait for PONG"
    ),
) -> None:
    """Start Overleg's private clamd in the background (unless it already runs) and wait
    until it answers; print its pid. Stop it with ``overleg scan stop``."""
    settings = _settings()
    try:
        pid, _ = clamd_process.start(
            settings, stream_max_bytes=stream_max_bytes, temp_dir=temp_dir, within=within
        )
    except (clamd_process.ClamdError, OSError, ValueError) as e:
        raise fail(str(e)) from None
    typer.echo(str(pid))


@app.command("stop")
def stop() -> None:
    """Stop Overleg's private clamd (by the pid in its pid file, checked to be clamd)."""
    pid = clamd_process.stop(_settings())
    typer.echo(f"stopped clamd (pid {pid})" if pid is not None else "clamd was not running")


@app.command("check")
def check() -> None:
    """Print clamd's address, engine and database version and PONG, the signature
    fingerprint and the YARA rule files; exit 1 with one line if clamd does not answer."""
    settings = _settings()
    client = ClamdClient.from_settings(settings)

    async def probe() -> str:
        await client.ping()
        return await client.version()

    try:
        version = asyncio.run(probe())
    except ScannerUnavailable as e:
        raise fail(e.detail) from None
    row("clamd", client.address, version, "PONG")
    row("signatures", signatures.settings_fingerprint(settings))
    rules = yara_rules.load(settings.scan_yara_dir)
    row("yara", settings.scan_yara_dir, f"{len(rules.files)} rule file(s)")
    for problem in rules.problems:
        row("yara", problem.file, f"SKIPPED: {problem.message}")


@app.command("update-signatures")
def update_signatures(
    timeout: float = typer.Option(1800.0, "--timeout", min=1, help="seconds for freshclam"),
    mirror: str | None = typer.Option(
        None, "--mirror", help="a private mirror URL instead of the official one"
    ),
) -> None:
    """Write Overleg's own signatures and fetch the official databases with freshclam into
    the managed folder; tell clamd to reload if they changed. Exit 1 if freshclam failed
    (offline sites: copy the .cvd/.cld files into the folder instead)."""
    settings = _settings()
    outcome = signatures.update(settings, timeout=timeout, mirror=mirror)
    if outcome.changed:
        try:
            asyncio.run(ClamdClient.from_settings(settings).reload())
            typer.echo("signatures changed: clamd reloads them")
        except ScannerUnavailable:
            typer.echo("signatures changed (clamd is not running)")
    if not outcome.ok:
        raise fail(f"{outcome.message}; Overleg's own signatures are in place")
    typer.echo(outcome.message)
