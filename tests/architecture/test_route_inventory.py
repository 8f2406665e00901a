"""Every route is either public on purpose or needs a session, and every route is classified.

- ``PUBLIC_ROUTES`` (main.py) lists the routes that answer without a session; each exists.
- Every other route answers an anonymous request (and one with a made-up token) with 401
  ``unauthenticated`` before it looks at the request's body or ids.
- The role matrix (``matrix.MATRIX``) is the inventory of authenticated routes: a route that
  is added without a row there fails here, and so does a row for a route that is gone.

Routes are the same on both databases, and none of this depends on the backend, so these
tests run once, on a SQLite copy of the migrated schema.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Route

from overleg.bootstrap import build_runtime
from overleg.main import PUBLIC_ROUTES, create_app
from tests.architecture.matrix import MUTATING, matrix_routes, problem_type
from tests.conftest import test_settings as settings_for_test

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by the framework for the GET routes


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("routes") / "overleg.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture(scope="module")
async def app(database: Path) -> AsyncIterator[FastAPI]:
    rt = build_runtime(
        settings_for_test(database.parent, f"sqlite+aiosqlite:///{database}"), create=True
    )
    yield create_app(rt, check_schema=False)
    await rt.database.dispose()


@pytest.fixture
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route. FastAPI keeps included routers as lazy
    ``app.routes`` entries; ``iter_route_contexts`` expands them with their prefixes."""
    out: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Route):
            assert ctx.path and ctx.methods, f"a route without path or methods: {route!r}"
            out |= {(m, ctx.path) for m in ctx.methods - IGNORED_METHODS}
    return out


def fill(path: str) -> str:
    """A concrete path: ids that exist nowhere, words for the other parameters."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: str(uuid.uuid4()) if m[1].endswith("_id") else f"{m[1]}-x",
        path,
    )


def test_public_routes_exist(app: FastAPI) -> None:
    known = routes(app)
    assert PUBLIC_ROUTES, "PUBLIC_ROUTES is empty"
    gone = sorted(PUBLIC_ROUTES - known)
    assert not gone, f"PUBLIC_ROUTES names routes that do not exist: {gone}"


def test_every_route_is_classified_in_the_role_matrix(app: FastAPI) -> None:
    """The inventory: add a route, and this fails until the route has a row in the matrix
    (which says who may call it), or is made public on purpose in PUBLIC_ROUTES."""
    known = routes(app)
    authenticated = known - PUBLIC_ROUTES
    listed = matrix_routes()
    unclassified = sorted(authenticated - listed)
    assert not unclassified, f"routes without a row in tests/architecture/matrix.py: {unclassified}"
    stale = sorted(listed - known)
    assert not stale, f"matrix rows for routes that do not exist: {stale}"
    both = sorted(listed & PUBLIC_ROUTES)
    assert not both, f"public routes need no matrix row: {both}"


async def test_every_other_route_needs_a_session(app: FastAPI, anon: httpx.AsyncClient) -> None:
    private = sorted(routes(app) - PUBLIC_ROUTES)
    assert len(private) > 30
    wrong: list[str] = []
    for method, path in private:
        body = {} if method in MUTATING else None
        for headers in ({}, {"Authorization": "Bearer not-a-session-token"}):
            resp = await anon.request(method, fill(path), json=body, headers=headers)
            kind = "anonymous" if not headers else "made-up token"
            if resp.status_code != 401 or problem_type(resp) != "unauthenticated":
                wrong.append(f"{method} {path} ({kind}): {resp.status_code} {resp.text[:200]}")
            elif not resp.headers["content-type"].startswith("application/problem+json"):
                wrong.append(f"{method} {path} ({kind}): not problem+json")
    assert not wrong, "\n".join(wrong)


async def test_public_routes_answer_without_a_session(anon: httpx.AsyncClient) -> None:
    for method, path in sorted(PUBLIC_ROUTES):
        if method != "GET" or "{" in path:
            continue
        resp = await anon.get(path)
        assert resp.status_code == 200, f"{path}: {resp.status_code} {resp.text[:200]}"
    # a sharing link (tested with real links in tests/files/sharing) that does not exist is
    # "not found", not "sign in first"
    resp = await anon.get("/api/v1/files/links/no-such-link")
    assert (resp.status_code, problem_type(resp)) == (404, "not-found"), resp.text
    # sign-in is public: a wrong password is answered as such, not with "sign in first"
    resp = await anon.post(
        "/api/v1/auth/sign-in", json={"email": "nobody@contoso.example", "password": "x" * 12}
    )
    assert resp.status_code == 401
    assert "Sign in first" not in resp.text
