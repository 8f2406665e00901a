"""File search reaches files shared with the caller through a link they redeemed, until the
link is turned off, and never files whose channel was deleted."""

from __future__ import annotations

import pytest

from overleg.workspace import service as workspace
from tests.files.core.conftest import shelf as shelf  # the fixture
from tests.files.search.test_reindex import _find, _scanned
from tests.files.sharing.desk import Desk
from tests.files.sharing.desk import desk as desk  # the fixture
from tests.fixtures.clamd import ClamdInstance
from tests.fixtures.clamd import clamd as clamd  # the fixture

F = "/api/v1/files"


@pytest.fixture
def settings_overrides(clamd: ClamdInstance) -> dict[str, object]:
    return {
        "scan_clamd_socket": clamd.socket_path,
        "scan_clamd_db_dir": clamd.db_dir,
        "scan_yara_dir": clamd.yara_dir,
    }


async def test_a_redeemed_link_makes_its_file_searchable_while_it_is_active(desk: Desk) -> None:
    shelf = desk.shelf
    plan = await _scanned(shelf, "mia", "harbour-plan.txt", b"Pier works in Vlissingen.\n")
    link = await desk.link("mia", plan["id"], audience="people")
    assert await _find(shelf, "sam", "vlissingen") == []
    r = await shelf.call("sam", "POST", f"{F}/links/{link['token']}/redeem")
    assert r.status_code == 200, r.text
    assert await _find(shelf, "sam", "vlissingen") == ["harbour-plan.txt"]
    # the link is turned off: the grant gives nothing, search included
    r = await shelf.call("mia", "DELETE", f"{F}/{plan['id']}/links/{link['id']}")
    assert r.status_code == 204, r.text
    assert await _find(shelf, "sam", "vlissingen") == []


async def test_files_of_a_deleted_channel_are_not_found_through_shares(desk: Desk) -> None:
    shelf = desk.shelf
    plan = await _scanned(shelf, "mia", "dyke-plan.txt", b"Dyke works in Terneuzen.\n")
    assert (await desk.share("mia", plan["id"], "sam")).status_code == 200
    assert await _find(shelf, "sam", "terneuzen") == ["dyke-plan.txt"]
    olivia = desk.shelf.world.principal("olivia")
    async with desk.rt.database.transaction(tenant_id=olivia.tenant_id) as db:
        channel = await workspace.get_channel(olivia, db, shelf.channel_id)
        await workspace.delete_team(olivia, db, channel.team.id)
    assert await _find(shelf, "sam", "terneuzen") == []
