"""Browser tests: Debian's Chromium driven by Playwright (no browser download) against a
real Overleg served by uvicorn on ``localhost`` in the tests' own event loop, on the named
cast. Every page load is checked for requests that leave the origin; a failing test leaves
a screenshot of each open page in ``build/e2e-screenshots/``.

``localhost``, not 127.0.0.1: WebAuthn refuses IP origins, and Chromium treats localhost
as a secure context (camera, microphone, secure cookies).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.webui.serve import DIST
from overleg.workspace import service as workspace
from overleg.workspace.schemas import MemberAdd, TeamCreate, TeamSettings
from tests.e2e.server import free_port
from tests.fixtures.services import missing
from tests.fixtures.world import PASSWORD, World

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SHOTS = Path(__file__).resolve().parents[3] / "build" / "e2e-screenshots"
#: ``make screenshots`` sets this: the tests then save the main screens there (docs/)
SCREENS = os.environ.get("OVERLEG_SCREENSHOTS")
AXE = Path(__file__).resolve().parents[3] / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: how long Playwright waits for something to appear (a bound, not a timing assertion)
WAIT_MS = 15_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not (DIST / "index.html").is_file():
        missing("the built web client (make web)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        await b.close()


@dataclass
class Site:
    """A running Overleg, the cast, and the browser's pages on it."""

    base: str
    world: World
    browser: Browser
    team_id: uuid.UUID
    channel_id: uuid.UUID
    pages: dict[str, Page] = field(default_factory=dict)
    contexts: list[BrowserContext] = field(default_factory=list)
    #: requests that went anywhere but this origin (must stay empty)
    foreign: list[str] = field(default_factory=list)
    #: uncaught errors in the pages' scripts (must stay empty)
    errors: list[str] = field(default_factory=list)

    @property
    def rt(self) -> Runtime:
        return self.world.rt

    async def page(self, who: str, **context_args: Any) -> Page:
        """A fresh browser profile (its own cookies) for ``who``, on the sign-in page."""
        ctx = await self.browser.new_context(locale="en-GB", **context_args)
        ctx.set_default_timeout(WAIT_MS)
        self.contexts.append(ctx)

        def watch(request: Any) -> None:
            url: str = request.url
            ours = (self.base + "/", self.base.replace("http", "ws", 1) + "/", "data:", "blob:")
            if not url.startswith(ours):
                self.foreign.append(url)

        ctx.on("request", watch)
        page = await ctx.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"{who}: {e}"))
        self.pages[who] = page
        await page.goto(self.base + "/")
        return page

    async def sign_in(self, who: str, *, with_totp: bool = True) -> Page:
        """Sign ``who`` in through the page, with an authenticator app set up for them
        first (admins must have one; members may)."""
        from overleg.security.authn import totp

        totp_secret = await self.world.enrol_totp(who) if with_totp else None
        page = await self.page(who)
        await page.get_by_label("Email").fill(f"{who}@contoso.example")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        if totp_secret is not None:
            await page.get_by_label("Code").fill(totp.code_at(totp_secret, _now()))
            await page.get_by_role("button", name="Verify").click()
        await page.get_by_role("navigation", name="Teams").wait_for()
        return page

    async def shot(self, page: Page, name: str) -> None:
        """Save the page as docs' screenshot ``name`` (only for ``make screenshots``, once:
        on the SQLite run)."""
        if SCREENS and "sqlite" in (self.rt.settings.database_url or "sqlite"):
            # Playwright makes the folder
            await page.screenshot(path=str(Path(SCREENS) / f"{name}.png"))

    async def axe(self, page: Page) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not AXE.is_file():
            missing("axe-core (make web)")
        # evaluated by the driver (DevTools), not loaded by the page: the CSP stays intact
        await page.evaluate(AXE.read_text())
        found: list[dict[str, Any]] = await page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => ({id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
        )
        return found


def _now() -> Any:
    from overleg.kernel.clock import now

    return now()


@pytest.fixture
async def site(
    world: World, browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[Site]:
    """Overleg on a free port, with a private team "Sales" (olivia owns it, mia is in it)."""
    olivia = world.principal("olivia")
    async with world.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        team = await workspace.create_team(
            olivia, db, TeamCreate(name="Sales", privacy="private", settings=TeamSettings())
        )
        await workspace.add_member(olivia, db, team.id, MemberAdd(user_id=world.id("mia")))
    assert team.general_channel_id is not None

    port = free_port()
    config = uvicorn.Config(
        create_app(world.rt, check_schema=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    s = Site(f"http://localhost:{port}", world, browser, team.id, team.general_channel_id)
    try:
        yield s
    finally:
        if request.node.stash.get(FAILED, False):
            SHOTS.mkdir(parents=True, exist_ok=True)
            for who, page in s.pages.items():
                name = f"{request.node.name}-{who}.png".replace("/", "_")
                # a page that is gone has no screenshot
                with contextlib.suppress(Exception):
                    await page.screenshot(path=str(SHOTS / name), full_page=True)
        for ctx in s.contexts:
            await ctx.close()
        server.should_exit = True
        await task
    assert not s.foreign, f"requests left the origin: {s.foreign}"
    assert not s.errors, f"uncaught errors in the page: {s.errors}"
