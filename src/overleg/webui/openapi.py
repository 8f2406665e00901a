"""``python -m overleg.webui.openapi FILE``: write Overleg's OpenAPI schema (sorted, stable)
to FILE, for generating the web client's API types (``make api-client``).

The app is assembled with throw-away settings in a temporary folder: describing the API
needs no database, key or service."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def schema() -> dict[str, Any]:
    from overleg.bootstrap import build_runtime
    from overleg.main import create_app
    from overleg.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        app = create_app(build_runtime(settings, create=True), check_schema=False)
        out: dict[str, Any] = app.openapi()
        return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m overleg.webui.openapi FILE", file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(schema(), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
