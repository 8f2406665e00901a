"""The stage shared by the architecture tests: the named cast, built once per backend and
module, reset between tests (see matrix.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.architecture.matrix import Stage, open_stage, stage_database
from tests.fixtures.services import databases


@pytest.fixture(scope="module", params=databases())
def stage_db(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return stage_database(request, str(request.param))


@pytest.fixture(scope="module")
async def stage(stage_db: tuple[str, Path]) -> AsyncIterator[Stage]:
    async with open_stage(stage_db, targets=True) as st:
        yield st
