"""Fixtures for the crypto tests: a real SoftHSM2 token in a temp dir, and a SQLite DB."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from overleg.kernel.crypto.models import TenantDataKey, TenantKeyState
from overleg.kernel.db.base import Base
from overleg.kernel.db.session import Database, make_engine
from tests.unit.crypto.hsm import SOFTHSM_LIB, SoftHsm, hsm_missing


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A SoftHSM2 token store of our own, with one initialised token.

    SOFTHSM2_CONF is set before any test loads the library: SoftHSM reads it (and the
    token list) only at C_Initialize.
    """
    util = shutil.which("softhsm2-util")
    if util is None:
        hsm_missing("softhsm2-util is not on PATH (apt-get install softhsm2)")
    if not Path(SOFTHSM_LIB).exists():
        hsm_missing(f"{SOFTHSM_LIB} does not exist (apt-get install softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
        "slots.mechanisms = ALL\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        hsm = SoftHsm(util=util, lib_path=SOFTHSM_LIB, conf=conf, label="overleg-test")
        hsm.init_token(hsm.label)
        yield hsm


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database holding just the crypto tables."""
    engine = make_engine("sqlite+aiosqlite:///" + str(tmp_path / "t.db"))
    tables = [Base.metadata.tables[m.__tablename__] for m in (TenantDataKey, TenantKeyState)]
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=tables)
    db = Database(engine)
    yield db
    await db.dispose()
