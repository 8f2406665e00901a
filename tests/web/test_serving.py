"""Overleg serves the built web client for browser paths and leaves the API alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from overleg.api.middleware import Receive, Scope, Send
from overleg.kernel.runtime import Runtime
from overleg.main import create_app
from overleg.webui.serve import DIST, WebClient
from tests.fixtures.services import missing

INDEX = b"<!doctype html><title>Overleg</title><div id=root></div>"


async def _api(scope: Scope, receive: Receive, send: Send) -> None:
    body = b'{"api": true}'
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_bytes(INDEX)
    (d / "assets" / "index-abc123.js").write_text("console.log(1)")
    (d / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return d


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")  # type: ignore[arg-type]


async def test_client_paths_get_the_app_and_files_get_files(dist: Path) -> None:
    async with _client(WebClient(_api, dist)) as c:
        for path in ("/", "/signin", "/t/abc/def/files"):
            r = await c.get(path)
            assert r.status_code == 200, path
            assert r.content == INDEX
            assert r.headers["cache-control"] == "no-cache"
        r = await c.get("/assets/index-abc123.js")
        assert r.status_code == 200 and r.text == "console.log(1)"
        assert "immutable" in r.headers["cache-control"]
        assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        r = await c.head("/favicon.svg")
        assert r.status_code == 200 and r.content == b""


async def test_the_api_and_missing_files_are_not_the_app(dist: Path) -> None:
    async with _client(WebClient(_api, dist)) as c:
        for path in ("/api/v1/nothing", "/api", "/healthz", "/openapi.json"):
            r = await c.get(path)
            assert r.json() == {"api": True}, path
        r = await c.post("/signin")
        assert r.json() == {"api": True}
        for path in ("/assets/gone-123.js", "/old.css"):
            assert (await c.get(path)).status_code == 404, path


async def test_nothing_outside_the_build_is_served(dist: Path) -> None:
    async with _client(WebClient(_api, dist)) as c:
        for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
            r = await c.get(path)
            assert b"not for the web" not in r.content, path


async def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path) -> None:
    async with _client(WebClient(_api, tmp_path / "none")) as c:
        r = await c.get("/")
        assert r.status_code == 503
        assert b"make web" in r.content


async def test_the_built_client_is_served_with_the_security_headers(rt: Runtime) -> None:
    if not (DIST / "index.html").is_file():
        missing("the built web client (make web)")
    async with _client(create_app(rt, check_schema=False)) as c:
        r = await c.get("/t/some/where")
        assert r.status_code == 200
        assert b'<div id="root">' in r.content
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "http" not in csp.replace("'self'", "")
        assert r.headers["x-content-type-options"] == "nosniff"
        # every script and stylesheet of the page comes from this origin
        for ref in r.text.split('"'):
            assert not ref.startswith(("http://", "https://", "//")), ref
        r = await c.get("/api/v1/me")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_text_files_are_sent_gzipped_to_browsers_that_accept_it(dist: Path) -> None:
    big = "export const words = [" + ",".join(f'"word{i}"' for i in range(2000)) + "];\n"
    (dist / "assets" / "big-1.js").write_text(big)
    async with _client(WebClient(_api, dist)) as c:
        r = await c.get("/assets/big-1.js", headers={"accept-encoding": "gzip, br"})
        assert r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) < len(big) / 3
        assert r.text == big  # httpx decodes it
        assert r.headers["vary"] == "accept-encoding"
        r = await c.get("/assets/big-1.js", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in r.headers
        assert int(r.headers["content-length"]) == len(big)
