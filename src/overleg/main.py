"""create_app(): the FastAPI application, its middleware and routers. Nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from overleg.api import health, problems
from overleg.api.admin import alerts as admin_alerts
from overleg.api.admin import audit as admin_audit
from overleg.api.admin import dial_in as admin_dial_in
from overleg.api.admin import groups as admin_groups
from overleg.api.admin import quarantine as admin_quarantine
from overleg.api.admin import recordings as admin_recordings
from overleg.api.admin import status as admin_status
from overleg.api.admin import tenant as admin_tenant
from overleg.api.admin import users as admin_users
from overleg.api.middleware import HttpBasics
from overleg.api.v1 import (
    auth,
    channels,
    chats,
    dial_in,
    events,
    files,
    me,
    meeting_media,
    meeting_room,
    meetings,
    messages,
    passkeys,
    recordings,
    teams,
)
from overleg.files.purge import collect_orphans, purge_deleted_everywhere
from overleg.files.reindex import reindex_due
from overleg.files.scan import rescan_recent as rescan_uploads
from overleg.files.scan import scan_pending as scan_uploads
from overleg.files.uploads import purge_expired_uploads
from overleg.kernel.jobs import Scheduler
from overleg.kernel.runtime import Runtime
from overleg.meetings.recordings.expiry import run_expiry_everywhere
from overleg.meetings.recordings.process import process_pending as process_recordings
from overleg.webui.serve import WebClient
from overleg.workspace.jobs import purge_deleted_teams_everywhere

#: Routes that answer without a session. Everything else requires one (tested).
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("POST", "/api/v1/auth/sign-in"),
        # passwordless sign-in with a passkey (the organisation's MFA policy decides)
        ("POST", "/api/v1/auth/passkey/sign-in/options"),
        ("POST", "/api/v1/auth/passkey/sign-in"),
        # anonymous people join meetings with a display name (the lobby decides)
        ("POST", "/api/v1/meetings/join/{join_code}"),
        # dial-in gateways authenticate with their own credential, not a session
        ("POST", "/api/v1/dial-in/calls"),
        # sharing links: an "anyone" link opens without an account; the link's token finds
        # its organisation, and a "people" link checks the session itself (files.links)
        ("GET", "/api/v1/files/links/{token}"),
        ("GET", "/api/v1/files/links/{token}/content"),
        # a new version through an "anyone" link to edit, by someone without an account
        ("PUT", "/api/v1/files/links/{token}/content"),
    }
)


def create_app(runtime: Runtime, *, check_schema: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from overleg.meetings.media import signalling
        from overleg.meetings.media.plane import MediaPlane
        from overleg.realtime.gateway import Gateway

        gateway: Gateway | None = None
        media: MediaPlane | None = None
        jobs = Scheduler()
        jobs.every(
            runtime.settings.teams_purge_interval_seconds,
            "teams.purge",
            lambda: purge_deleted_teams_everywhere(runtime),
        )
        jobs.every(
            runtime.settings.recordings_process_interval_seconds,
            "recordings.process",
            lambda: process_recordings(runtime),
        )
        jobs.every(
            runtime.settings.recordings_expiry_interval_seconds,
            "recordings.expiry",
            lambda: run_expiry_everywhere(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds,
            "files.scan",
            lambda: scan_uploads(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds,
            "files.reindex",
            lambda: reindex_due(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds and 300.0,
            "files.rescan",
            lambda: rescan_uploads(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds and 3600.0,
            "files.uploads",
            lambda: purge_expired_uploads(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds and 3600.0,
            "files.purge",
            lambda: purge_deleted_everywhere(runtime),
        )
        jobs.every(
            runtime.settings.files_scan_interval_seconds and 3600.0,
            "files.orphans",
            lambda: collect_orphans(runtime),
        )
        try:
            if check_schema:
                from overleg.bootstrap import check_schema as check

                await check(runtime.database)
            # realtime: the broker (Redis or in-process), then this node's gateway
            await runtime.broker.start()
            gateway = Gateway(runtime)
            await gateway.start()
            # meetings' audio and video: Janus instances that are down are retried, and
            # meetings go on without media meanwhile (the API says so)
            media = MediaPlane.from_settings(runtime.settings)
            signalling.watch(runtime, media)
            await media.start()
            runtime.media = media
            jobs.start()
            yield
        finally:
            await jobs.stop()
            if media is not None:
                runtime.media = None
                await media.stop()
            if gateway is not None:
                await gateway.stop()
            await runtime.broker.stop()
            await runtime.database.dispose()

    app = FastAPI(
        title="Overleg",
        version="0.1.0",
        summary="Self-hosted team workspace with compliance controls built in",
        lifespan=lifespan,
        # The bundled doc pages load scripts from a CDN; nothing may leave the origin.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    problems.install(app)
    for r in (
        health.router,
        auth.router,
        me.router,
        passkeys.router,
        events.router,
        admin_users.router,
        admin_groups.router,
        admin_tenant.router,
        admin_audit.router,
        admin_alerts.router,
        teams.router,
        channels.router,
        chats.router,
        messages.router,
        meetings.router,
        meetings.channel_router,
        meeting_room.router,
        meeting_media.router,
        dial_in.router,
        admin_dial_in.router,
        admin_recordings.router,
        files.router,
        files.search_router,
        admin_quarantine.router,
        admin_status.router,
        recordings.router,
        recordings.meeting_router,
    ):
        app.include_router(r)
    s = runtime.settings
    # the web client's pages and files for browser paths (inside HttpBasics: same headers)
    app.add_middleware(WebClient)
    app.add_middleware(
        HttpBasics,
        max_body=s.max_request_bytes,
        max_part=s.files_part_bytes,
        trusted_proxies=s.trusted_proxies,
        hsts=bool(s.public_base_url and s.public_base_url.startswith("https://")),
    )
    return app
