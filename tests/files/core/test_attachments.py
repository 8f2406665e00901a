"""A message attaches files of its own channel or chat only: their visibility is the
message's. Any other id (a file elsewhere, one's own files, nothing) is a 422."""

from __future__ import annotations

import uuid

from tests.files.core.conftest import Shelf


async def test_a_post_attaches_files_of_its_channel_only(shelf: Shelf) -> None:
    here = await shelf.upload("mia", "agenda.txt", b"1. budget\n2. hiring\n")
    mine = await shelf.upload("mia", "private.txt", b"my notes\n", where="user")
    post = f"/api/v1/channels/{shelf.channel_id}/messages"
    r = await shelf.call(
        "mia", "POST", post, json={"text": "see attached", "attachments": [here["id"]]}
    )
    assert r.status_code == 201, r.text
    assert r.json()["attachments"] == [here["id"]]
    for other in (mine["id"], str(uuid.uuid4())):
        r = await shelf.call("mia", "POST", post, json={"text": "and this", "attachments": [other]})
        assert r.status_code == 422 and "attachments" in r.text, r.text
    # nothing was posted by the refused attempts
    r = await shelf.call("mia", "GET", post)
    assert [m["text"] for m in r.json()] == ["see attached"], r.text
