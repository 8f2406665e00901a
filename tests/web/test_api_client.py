"""The web client's API types are generated from the API's OpenAPI schema (``make
api-client``); the committed file must be what the current API generates."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from overleg.webui.openapi import schema
from tests.fixtures.services import missing

WEB = Path(__file__).resolve().parents[2] / "web"
COMMITTED = WEB / "src" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def test_committed_api_types_match_the_api(tmp_path: Path) -> None:
    if shutil.which("node") is None or not GENERATOR.exists():
        missing("Node.js with web/node_modules (make web)")
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(schema(), indent=1, sort_keys=True) + "\n")
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(spec), "-o", str(out)],
        check=True,
        cwd=WEB,
        capture_output=True,
        timeout=120,
    )
    assert out.read_text() == COMMITTED.read_text(), (
        "web/src/api/schema.d.ts is stale: run `make api-client` and commit it"
    )


def test_the_schema_describes_the_routes_the_client_calls() -> None:
    paths = schema()["paths"]
    for path in ("/api/v1/me", "/api/v1/auth/sign-in", "/api/v1/files/uploads"):
        assert path in paths
    me = schema()["components"]["schemas"]["Me"]["properties"]
    assert "csrf_token" in me
