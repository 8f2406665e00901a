"""ASGI middleware: request ids, client address behind trusted proxies, body size limit,
security headers, access log and metrics. Pure ASGI so streaming responses stay streamed."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUESTS = Counter("overleg_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("overleg_http_request_seconds", "HTTP request duration", ["method", "route"])
log = structlog.get_logger("overleg.http")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PART = re.compile(r"^/api/v1/files/uploads/[^/]+/parts/[0-9]+$")
#: a new version through a sharing link: one part at most (files.links checks the exact size)
_LINK_CONTENT = re.compile(r"^/api/v1/files/links/[^/]+/content$")

CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:"
)


class _TooLarge(Exception):
    pass


def client_ip(
    scope: Scope, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str | None:
    """The caller's address. X-Forwarded-For is believed only when the direct peer is a
    trusted proxy; then the right-most address that is not a trusted proxy wins."""
    peer = scope.get("client")
    addr: str | None = str(peer[0]) if peer else None
    if not addr or not trusted:
        return addr

    def is_trusted(a: str) -> bool:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not is_trusted(addr):
        return addr
    # Several header lines are one comma-separated list (RFC 9110 5.3); a proxy may add its
    # own line after one the client sent.
    hops = [
        h.strip()
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
        for h in value.decode("latin-1").split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not is_trusted(hop):
            # a hop that is no address is nonsense, not a client to record
            return hop if _is_ip(hop) else addr
    return addr


def _is_ip(a: str) -> bool:
    try:
        ipaddress.ip_address(a)
    except ValueError:
        return False
    return True


class HttpBasics:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        trusted_proxies: list[str],
        hsts: bool,
        max_part: int = 0,
    ) -> None:
        self.app = app
        self.max_body = max_body
        #: upload parts (PUT .../uploads/{id}/parts/{n}) and a new version through a link
        #: (PUT .../links/{token}/content) may be this large instead
        self.max_part = max(max_part, max_body)
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        rid_in = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = rid_in if _RID.match(rid_in) else secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["client_ip"] = client_ip(scope, self.trusted)
        start = time.perf_counter()
        status_holder = {"status": 500}

        limit = self.max_body
        path_in = scope.get("path", "")
        if scope.get("method") == "PUT" and (_PART.match(path_in) or _LINK_CONTENT.match(path_in)):
            limit = self.max_part
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject_too_large(scope, send, rid, limit)
            return
        received = 0
        too_large = started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return msg

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                # The app answers the aborted read itself (FastAPI turns any error while
                # reading the body into a 400); the 413 is sent instead, below.
                return
            if message["type"] == "http.response.start":
                started = True
                status_holder["status"] = message["status"]
                hdrs = list(message.get("headers", []))
                hdrs += self._security_headers(scope, rid)
                message["headers"] = hdrs
            await send(message)

        try:
            with contextlib.suppress(_TooLarge):
                await self.app(scope, limited_receive, send_wrapper)
            if too_large and not started:
                await self._reject_too_large(scope, send, rid, limit)
                status_holder["status"] = 413
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - start
            REQUESTS.labels(scope["method"], path, str(status_holder["status"])).inc()
            LATENCY.labels(scope["method"], path).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                route=path,
                status=status_holder["status"],
                ms=round(elapsed * 1000, 1),
                request_id=rid,
                ip=state["client_ip"],
            )

    def _security_headers(self, scope: Scope, rid: str) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-request-id", rid.encode()),
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(), payment=(), usb=()"),
        ]
        if scope.get("path", "").startswith("/api/"):
            out.append((b"cache-control", b"no-store"))
        if self.hsts or scope.get("scheme") == "https":
            out.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        return out

    async def _reject_too_large(self, scope: Scope, send: Send, rid: str, limit: int) -> None:
        body = json.dumps(
            {
                "type": "https://overleg.invalid/problems/too-large",
                "title": "Request too large",
                "status": 413,
                "detail": f"The request body is larger than {limit} bytes.",
                "instance": scope.get("path", ""),
                "request_id": rid,
            }
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *self._security_headers(scope, rid),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
