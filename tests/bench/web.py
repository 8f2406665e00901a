"""Benchmark 10: the web client's weight and the time until its channel view can be used.

``python -m tests.bench.web [--postgres] [--quick]`` runs it alone; ``python -m tests.bench``
runs it with the others (``--no-web`` skips it; without Chromium or a built client it is
reported as skipped).

A real Overleg (uvicorn, in this process) serves the built client (``make web``) to
Debian's Chromium, driven by Playwright, on ``http://localhost``. One organisation, one
member (signed in through the API, so the browser holds a session cookie), one team with a
channel of :data:`MESSAGES` posts ("Busy") and an empty one ("Quiet").

1. **Page weight**: what the browser transfers for the first load of the channel view with
   an empty cache (the HTML, the scripts and the style sheets, as Overleg sends them:
   gzip-compressed), from the page's Resource Timing ``transferSize`` (headers included),
   and the gzip sizes of the build's files. Target from the issue: under 300 KB.
2. **Time to interactive** of the channel view of "Busy" (subject): from the start of the
   navigation until the view shows the newest posts it loads (``limit`` 50 of the 500) and
   the composer is enabled; each round in a fresh browser context (empty cache, the session
   cookie set). **Baseline**, in alternating rounds: the same for "Quiet" (the same page,
   the same requests, no posts). Reported: medians and the median of the paired ratios.

No assertions on time anywhere: the numbers are printed and recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import shutil
import statistics
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, async_playwright

from overleg.identity import service as identity
from overleg.identity.schemas import TenantCreate, UserCreate
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.messaging import service as messaging
from overleg.messaging.schemas import MessageCreate
from overleg.security.principal import Principal, PrincipalKind, Role, for_tenant, operator
from overleg.webui.serve import DIST
from overleg.workspace import service as workspace
from overleg.workspace.schemas import ChannelCreate, TeamCreate, TeamSettings
from tests.bench import machine
from tests.bench.backend import PG_URL, Backend, make_runtime, run_on
from tests.e2e.server import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MESSAGES = 500
SHOWN = 50  # what the channel view loads at first (the newest posts)
ROUNDS = 7
TARGET_KB = 300
EMAIL, PASSWORD = "reader@bench.example", "violet anchor gravel 7391"
QUICK = {"rounds": 2}


class Unavailable(Exception):
    """Chromium or the built client is missing."""


@dataclass
class WebResult:
    backend: str
    transferred: dict[str, int]  # resource kind -> bytes over the wire (first load)
    build_gzip: dict[str, int]  # file of the build -> gzip size
    busy_ms: list[float] = field(default_factory=list)
    quiet_ms: list[float] = field(default_factory=list)
    load_start: str = ""
    load_end: str = ""

    @property
    def initial_kb(self) -> float:
        return sum(self.transferred.values()) / 1000

    @property
    def ratios(self) -> list[float]:
        return [b / q for b, q in zip(self.busy_ms, self.quiet_ms, strict=True)]


async def _seed(rt: Runtime) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(team, busy channel, quiet channel), the reader a member of the team."""
    op = operator("bench")
    async with rt.database.transaction(unscoped=True) as db:
        tenant = await identity.create_tenant(
            op, db, TenantCreate(name="Bench web", slug="bench-web")
        )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        made = await identity.create_user(
            for_tenant(op, tenant.id),
            db,
            UserCreate(email=EMAIL, display_name="Reader", password=PASSWORD),
        )
    me = Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        label=EMAIL,
        user_id=made.user.id,
        roles=frozenset({Role.MEMBER}),
    )
    async with rt.database.transaction(tenant_id=tenant.id) as db:
        team = await workspace.create_team(
            me, db, TeamCreate(name="Bench", privacy="private", settings=TeamSettings())
        )
        busy = await workspace.create_channel(me, db, team.id, ChannelCreate(name="Busy"))
        quiet = await workspace.create_channel(me, db, team.id, ChannelCreate(name="Quiet"))
    for i in range(MESSAGES):
        async with rt.database.transaction(tenant_id=tenant.id) as db:
            text = f"Post {i}: the **minutes** of item {i % 17}, [agenda](/t/x):\n\n- one\n- two"
            await messaging.post_in_channel(me, db, busy.id, MessageCreate(text=text))
    return team.id, busy.id, quiet.id


def _build_sizes() -> dict[str, int]:
    index = (DIST / "index.html").read_text()
    out = {"index.html": len(gzip.compress(index.encode(), 9))}
    for f in sorted((DIST / "assets").glob("*")):
        if f.suffix in (".js", ".css") and f.name in index:
            out[f.name] = len(gzip.compress(f.read_bytes(), 9))
    return out


async def _interactive_ms(
    browser: Browser, base: str, cookie: dict[str, str], path: str, posts: int
) -> float:
    """Milliseconds from the navigation's start until the channel view is usable."""
    ctx = await browser.new_context()
    await ctx.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": base}])
    page = await ctx.new_page()
    try:
        await page.goto(base + path, wait_until="commit")
        await page.wait_for_function(
            """n => document.querySelectorAll('.posts li.message').length >= n
                   && (n > 0 || document.querySelector('.posts .empty'))
                   && document.querySelector('.composer textarea')
                   && !document.querySelector('.composer button.primary').disabled""",
            arg=posts,
            polling="raf",
            timeout=60_000,
        )
        ms: float = await page.evaluate("performance.now()")
        return ms
    finally:
        await ctx.close()


async def run(rt: Runtime, *, rounds: int = ROUNDS) -> WebResult:
    if shutil.which(CHROMIUM) is None:
        raise Unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if not (DIST / "index.html").is_file():
        raise Unavailable("the web client is not built (make web)")
    load_start = machine.load()
    team, busy, quiet = await _seed(rt)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(rt, check_schema=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.05)
    base = f"http://localhost:{port}"
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = await browser.new_context()
            r = await ctx.request.post(
                base + "/api/v1/auth/sign-in", data={"email": EMAIL, "password": PASSWORD}
            )
            if r.status != 200:
                raise RuntimeError(f"sign-in failed: {r.status} {await r.text()}")
            jar = next(c for c in await ctx.cookies() if c["name"] == "overleg_session")
            cookie = {"name": jar["name"], "value": jar["value"]}
            page = await ctx.new_page()
            await page.goto(f"{base}/t/{team}/{quiet}", wait_until="networkidle")
            transferred: dict[str, int] = {}
            for entry in await page.evaluate(
                """() => [performance.getEntriesByType('navigation')[0],
                          ...performance.getEntriesByType('resource')]
                         .map(e => [e.name, e.initiatorType, e.transferSize])"""
            ):
                name, kind, size = entry
                if "/api/" in name:
                    continue
                label = "html" if kind == "navigation" else name.rsplit(".", 1)[-1]
                transferred[label] = transferred.get(label, 0) + int(size)
            await ctx.close()
            result = WebResult(rt.database.engine.dialect.name, transferred, _build_sizes())
            await _interactive_ms(browser, base, cookie, f"/t/{team}/{busy}", SHOWN)  # warm-up
            for i in range(rounds):
                order = [("busy", busy, SHOWN), ("quiet", quiet, 0)]
                for which, channel, posts in order if i % 2 == 0 else reversed(order):
                    ms = await _interactive_ms(browser, base, cookie, f"/t/{team}/{channel}", posts)
                    (result.busy_ms if which == "busy" else result.quiet_ms).append(ms)
            await browser.close()
    finally:
        server.should_exit = True
        await serving
    result.load_start, result.load_end = load_start, machine.load()
    return result


def report(r: WebResult) -> str:
    med_busy, med_quiet = statistics.median(r.busy_ms), statistics.median(r.quiet_ms)
    ratios = r.ratios
    within = "within" if r.initial_kb < TARGET_KB else "OUTSIDE"
    return "\n".join(
        [
            f"web client benchmark on {r.backend}, load average {r.load_start} -> {r.load_end}",
            f"  first load transferred: {r.initial_kb:.1f} KB ("
            + ", ".join(f"{k} {v / 1000:.1f} KB" for k, v in sorted(r.transferred.items()))
            + f"): {within} target (< {TARGET_KB} KB)",
            "  build, gzip -9: "
            + ", ".join(f"{k} {v / 1000:.1f} KB" for k, v in r.build_gzip.items()),
            f"  time to interactive, channel of {MESSAGES} posts ({SHOWN} shown): median "
            f"{med_busy:.0f} ms (range {min(r.busy_ms):.0f} .. {max(r.busy_ms):.0f}); empty "
            f"channel {med_quiet:.0f} ms ({min(r.quiet_ms):.0f} .. {max(r.quiet_ms):.0f}); "
            f"ratio {statistics.median(ratios):.2f} ({min(ratios):.2f} .. {max(ratios):.2f}), "
            f"{len(ratios)} alternating rounds",
        ]
    )


async def _main_async(backend: Backend, data_dir: Path, args: argparse.Namespace) -> str:
    rt = make_runtime(backend, data_dir)
    try:
        return report(await run(rt, **(QUICK if args.quick else {})))
    finally:
        await rt.database.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.web", description=__doc__)
    p.add_argument("--postgres", action="store_true", help=f"run on PostgreSQL ({PG_URL})")
    p.add_argument("--quick", action="store_true", help="two rounds")
    args = p.parse_args(argv)
    from tests.bench.__main__ import _quiet_production_logging

    _quiet_production_logging()
    facts = machine.describe()
    try:
        out = run_on(args.postgres, "overleg-bench-web-", lambda b, d: _main_async(b, d, args))
    except Unavailable as exc:
        print(f"web benchmark skipped: {exc}")
        return 1
    width = max(len(k) for k, _ in facts)
    print("\n".join(f"  {k.ljust(width)}  {v}" for k, v in facts))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
