"""Serve the built web client from the package, in front of the API.

``web/`` is built (``make web``) into ``dist/`` next to this module. A GET or HEAD for a
path that is not the API's (``/api/``, health, metrics, the schema) is answered from there:
a file of the build (hashed names under ``/assets/`` are cached for a year), or else
``index.html``, so that the client's own paths (``/t/<team>/<channel>``, ``/signin``)
load the app. Everything else goes to the API untouched. The client is public like any web
page; what it shows comes from the API, which checks every call.

Security headers (the CSP allows only this origin) are added by ``api.middleware`` for
these answers too.
"""

from __future__ import annotations

import gzip
import mimetypes
from pathlib import Path

from overleg.api.middleware import ASGIApp, Receive, Scope, Send

DIST = Path(__file__).parent / "dist"

#: paths that always belong to the API (a typo there must get the API's 404, not the app)
API_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")

NOT_BUILT = (
    b"<!doctype html><meta charset=utf-8><title>Overleg</title>"
    b"<p>The web client is not built. Run <code>make web</code> (or <code>make run</code>), "
    b"then reload this page. The API is at <code>/api/v1</code>.</p>"
)

IMMUTABLE = b"public, max-age=31536000, immutable"
NO_CACHE = b"no-cache"
#: types worth compressing (images and fonts are compressed already)
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


def _is_api(path: str) -> bool:
    return path == "/api" or any(path.startswith(p) for p in API_PREFIXES)


class WebClient:
    """ASGI middleware: the web client's files for browser paths, the API for the rest."""

    def __init__(self, app: ASGIApp, dist: Path = DIST) -> None:
        self.app = app
        self.dist = dist.resolve()
        #: (path, modification time) -> gzip of the file: compressed once, not per request
        self._gzipped: dict[tuple[Path, int], bytes] = {}

    def _body(self, file: Path, kind: str, scope: Scope) -> tuple[bytes, bool]:
        """The file's bytes, gzip-compressed when the browser accepts it and it helps."""
        data = file.read_bytes()
        if not kind.startswith(COMPRESSIBLE) or len(data) < 1024 or not _accepts_gzip(scope):
            return data, False
        key = (file, file.stat().st_mtime_ns)
        if key not in self._gzipped:
            self._gzipped[key] = gzip.compress(data, compresslevel=9, mtime=0)
        return self._gzipped[key], True

    def _file(self, path: str) -> Path | None:
        """The build's file for ``path``, never one outside the build folder."""
        rel = path.lstrip("/")
        if not rel or rel.endswith("/"):
            return None
        try:
            candidate = (self.dist / rel).resolve()
        except (OSError, ValueError):
            return None
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _is_api(path):
            await self.app(scope, receive, send)
            return
        found = self._file(path)
        if found is not None:
            kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            cache = IMMUTABLE if path.startswith("/assets/") else NO_CACHE
            body, gzipped = self._body(found, kind, scope)
            await _answer(scope, send, 200, body, kind, cache, gzipped=gzipped)
            return
        if path.startswith("/assets/") or "." in path.rsplit("/", 1)[-1]:
            # a missing file of the build is a 404, not the app (a stale page's old chunk)
            await _answer(scope, send, 404, b"Not found", "text/plain", NO_CACHE)
            return
        index = self.dist / "index.html"
        if index.is_file():
            body, gzipped = self._body(index, "text/html", scope)
            await _answer(scope, send, 200, body, "text/html", NO_CACHE, gzipped=gzipped)
        else:
            await _answer(scope, send, 503, NOT_BUILT, "text/html", NO_CACHE)


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"accept-encoding":
            codings = {c.split(b";")[0].strip() for c in value.lower().split(b",")}
            if b"gzip" in codings:
                return True
    return False


async def _answer(
    scope: Scope,
    send: Send,
    status: int,
    body: bytes,
    kind: str,
    cache: bytes,
    *,
    gzipped: bool = False,
) -> None:
    if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
        kind += "; charset=utf-8"
    headers = [
        (b"content-type", kind.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache),
        (b"vary", b"accept-encoding"),
    ]
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
