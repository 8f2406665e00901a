"""What each child process of the two-process test serves:
``python -m uvicorn --factory tests.realtime.node_app:app``, configured like ``overleg
serve`` through ``OVERLEG_*`` variables, with the app's schema check in uvicorn's loop."""

from __future__ import annotations

from fastapi import FastAPI

from overleg.bootstrap import build_runtime, configure_logging
from overleg.main import create_app
from overleg.settings import Settings


def app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(build_runtime(settings))
