"""Sharing links: what the policy allows (off, people, anyone; expiry cap; passwords), who
may follow a link, byte ranges through one, passwords and their throttle, revoked and
expired links, and files that are not clean. Time is moved with the frozen clock."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta
from typing import Any

from overleg.files.models import ShareLink
from overleg.kernel import clock
from overleg.kernel.clock import now
from tests.files.sharing.desk import PART, Desk, problem, text

F = "/api/v1/files"
PW = "correct horse battery"


async def _row(desk: Desk, link_id: str) -> ShareLink:
    async with desk.rt.database.transaction(tenant_id=desk.contoso) as db:
        link = await db.get(ShareLink, uuid.UUID(link_id))
        assert link is not None
        return link


async def test_the_policy_decides_which_links_exist(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    path = f"{F}/{f['id']}/links"
    # the default: links for the organisation's own people only
    made = await desk.link("mia", f["id"])
    assert (made["audience"], made["role"], made["state"]) == ("people", "view", "active")
    body = problem(await desk.call("mia", "POST", path, json={"audience": "anyone"}), 403)
    assert "own people" in body["detail"]
    await desk.policy(sharing_links="off")
    body = problem(await desk.call("mia", "POST", path, json={}), 403, "forbidden")
    assert "does not allow sharing links" in body["detail"]
    refused = await desk.audit("file.link_create", target=f["id"], outcome="denied")
    assert len(refused) == 2
    await desk.policy(sharing_links="anyone")
    for audience in ("people", "anyone"):
        assert (await desk.link("mia", f["id"], audience=audience))["audience"] == audience
    listed = (await desk.call("olivia", "GET", path)).json()
    assert [x["audience"] for x in listed] == ["people", "people", "anyone"]
    assert all("token" not in x and "url" not in x for x in listed)
    made_ok = await desk.audit("file.link_create", target=f["id"], outcome="success")
    assert len(made_ok) == 3


async def test_guests_and_outsiders_make_no_links(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    problem(await desk.call("gus", "POST", f"{F}/{f['id']}/links", json={}), 403)
    problem(await desk.call("gus", "GET", f"{F}/{f['id']}/links"), 403)
    for who in ("hank", "eve"):
        problem(await desk.call(who, "POST", f"{F}/{f['id']}/links", json={}), 404)


async def test_the_expiry_is_capped_by_the_policy(desk: Desk) -> None:
    f = await desk.file("mia", "plan.txt")
    path = f"{F}/{f['id']}/links"
    made = await desk.link("mia", f["id"])  # no expiry asked: the longest allowed (30 days)
    row = await _row(desk, made["id"])
    assert row.expires_at is not None
    assert timedelta(days=29, hours=23) < row.expires_at - now() <= timedelta(days=30)
    soon = (now() + timedelta(days=7)).isoformat()
    assert (await desk.link("mia", f["id"], expires_at=soon))["expires_at"] is not None
    too_late = (now() + timedelta(days=31)).isoformat()
    body = problem(await desk.call("mia", "POST", path, json={"expires_at": too_late}), 422)
    assert "at most 30 days" in body["detail"]
    past = (now() - timedelta(minutes=1)).isoformat()
    problem(await desk.call("mia", "POST", path, json={"expires_at": past}), 422)
    # only a policy without a cap makes links that never expire
    await desk.policy(link_max_days=None)
    assert (await desk.link("mia", f["id"]))["expires_at"] is None
    far = (now() + timedelta(days=400)).isoformat()
    assert (await desk.link("mia", f["id"], expires_at=far))["expires_at"] is not None
    await desk.policy(link_max_days=3)
    problem(await desk.call("mia", "POST", path, json={"expires_at": soon}), 422)


async def test_a_people_link_is_for_signed_in_people_of_the_organisation(desk: Desk) -> None:
    data = text(3000)
    f = await desk.file("mia", "plan.txt", data)
    made = await desk.link("mia", f["id"])
    url = made["url"]
    assert url == f"{F}/links/{made['token']}"
    # the token is kept as its SHA-256 only
    assert (await _row(desk, made["id"])).token_hash == hashlib.sha256(
        made["token"].encode()
    ).hexdigest()
    # hank is not in the team, yet the link opens it for him
    r = await desk.call("hank", "GET", url)
    assert r.status_code == 200, r.text
    view = r.json()
    assert (view["name"], view["size"], view["state"], view["audience"]) == (
        "plan.txt",
        3000,
        "clean",
        "people",
    )
    r = await desk.call("hank", "GET", view["content_url"])
    assert r.status_code == 200 and r.content == data
    # nobody without a session, no guest, nobody of another organisation
    problem(await desk.anon("GET", url), 401, "unauthenticated")
    problem(await desk.anon("GET", f"{url}/content"), 401)
    problem(await desk.call("gus", "GET", url), 403, "forbidden")
    problem(await desk.call("eve", "GET", f"{url}/content"), 403)
    # a session that is not usable counts as none
    problem(await desk.anon("GET", url, headers={"Authorization": "Bearer nonsense"}), 401)
    used = await desk.audit("file.link_use", target=f["id"], outcome="success")
    assert [u.actor_id for u in used] == [desk.id("hank")]
    assert used[0].details["link"] == made["id"]
    downloads = await desk.audit("file.download", target=f["id"], outcome="success")
    assert [(d.actor_id, d.details.get("link")) for d in downloads] == [
        (desk.id("hank"), made["id"])
    ]
    refused = await desk.audit("file.link_use", target=made["id"], outcome="denied")
    assert sorted(r.details["reason"] for r in refused) == sorted(
        [
            "not signed in",
            "not signed in",
            "this link is for the organisation's own people",
        ]
    )
    assert (await desk.audit("file.download", target=made["id"], outcome="denied"))[
        0
    ].actor_label.startswith("anonymous")


async def test_an_anyone_link_works_without_a_session_with_ranges(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    data = os.urandom(2 * PART + 500)
    f = await desk.file("mia", "data.bin", data)
    made = await desk.link("mia", f["id"], audience="anyone")
    content = f"{made['url']}/content"
    r = await desk.anon("GET", content)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-disposition"].startswith("attachment")
    lo, hi = PART - 10, PART + 9
    r = await desk.anon("GET", content, headers={"Range": f"bytes={lo}-{hi}"})
    assert r.status_code == 206 and r.content == data[lo : hi + 1]
    assert r.headers["content-range"] == f"bytes {lo}-{hi}/{len(data)}"
    r = await desk.anon("GET", content, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    # guests and people signed in elsewhere follow it too, as visitors
    assert (await desk.call("gus", "GET", made["url"])).status_code == 200
    assert (await desk.call("eve", "GET", content)).status_code == 200
    downloads = await desk.audit("file.download", target=f["id"], outcome="success")
    assert [(d.actor_type, d.actor_label, d.details.get("range")) for d in downloads] == [
        ("anonymous", "anonymous", None),
        ("anonymous", "anonymous", f"{lo}-{hi}"),
        ("anonymous", "eve@fabrikam.example (another organisation)", None),
    ]
    assert all(d.details["link"] == made["id"] for d in downloads)


async def test_passwords_are_asked_checked_and_throttled(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone", link_password_required=True)
    f = await desk.file("mia", "plan.txt")
    path = f"{F}/{f['id']}/links"
    body = problem(await desk.call("mia", "POST", path, json={"audience": "anyone"}), 422)
    assert "requires a password" in body["detail"]
    made = await desk.link("mia", f["id"], audience="anyone", password=PW)
    assert made["has_password"] is True
    stored = (await _row(desk, made["id"])).password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    url = made["url"]

    def pw(value: str) -> dict[str, Any]:
        return {"headers": {"X-Link-Password": value}}

    body = problem(await desk.anon("GET", url), 401, "unauthenticated")
    assert body["password_required"] is True
    problem(await desk.anon("GET", url, **pw("wrong password")), 403, "forbidden")
    assert (await desk.anon("GET", url, **pw(PW))).status_code == 200
    assert (await desk.anon("GET", f"{url}/content", **pw(PW))).status_code == 200
    # five wrong ones from one address, and the link waits, even for the right one
    t0 = now()
    clock.freeze(t0)
    for _ in range(5):
        problem(await desk.anon("GET", url, **pw("guess guess")), 403)
    r = await desk.anon("GET", f"{url}/content", **pw(PW))
    body = problem(r, 429, "too-many-attempts")
    assert int(r.headers["retry-after"]) >= 1
    clock.freeze(t0 + timedelta(seconds=2))
    assert (await desk.anon("GET", url, **pw(PW))).status_code == 200
    clock.freeze(None)
    failed = await desk.audit("file.link_use", target=made["id"], outcome="failed")
    assert [x.details["reason"] for x in failed] == ["wrong password"] * 6
    throttled = await desk.audit("file.download", target=made["id"], outcome="failed")
    assert [x.details["reason"] for x in throttled] == ["throttled"]
    assert (await desk.audit("file.link_use", target=made["id"], outcome="denied"))[0].details[
        "reason"
    ] == "no password"


async def test_revoked_and_expired_links_are_not_found(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    f = await desk.file("mia", "plan.txt")
    made = await desk.link("mia", f["id"], audience="anyone")
    later = (now() + timedelta(days=2)).isoformat()
    short = await desk.link("mia", f["id"], audience="anyone", expires_at=later)
    missing = problem(await desk.anon("GET", f"{F}/links/{'x' * 43}"), 404, "not-found")
    r = await desk.call("mia", "DELETE", f"{F}/{f['id']}/links/{made['id']}")
    assert r.status_code == 204
    for path in (made["url"], f"{made['url']}/content"):
        body = problem(await desk.anon("GET", path), 404, "not-found")
        assert (body["title"], body["detail"]) == (missing["title"], missing["detail"])
    assert (await desk.anon("GET", short["url"])).status_code == 200
    clock.freeze(now() + timedelta(days=2, seconds=1))
    body = problem(await desk.anon("GET", f"{short['url']}/content"), 404)
    assert body["detail"] == missing["detail"]
    clock.freeze(None)
    states = {
        x["id"]: x["state"] for x in (await desk.call("mia", "GET", f"{F}/{f['id']}/links")).json()
    }
    assert states == {made["id"]: "revoked", short["id"]: "active"}
    revoked = await desk.audit("file.link_revoke", target=f["id"], outcome="success")
    assert [x.details["link"] for x in revoked] == [made["id"]]
    dead = await desk.audit("file.link_use", target=made["id"], outcome="denied")
    assert [x.details["reason"] for x in dead] == ["the link is revoked"]
    expired = await desk.audit("file.download", target=short["id"], outcome="denied")
    assert [x.details["reason"] for x in expired] == ["the link is expired"]
    # revoking is for those who share: guests and strangers are refused
    problem(await desk.call("gus", "DELETE", f"{F}/{f['id']}/links/{short['id']}"), 403)
    problem(await desk.call("hank", "DELETE", f"{F}/{f['id']}/links/{short['id']}"), 404)
    # another file's link is not this file's
    other = await desk.file("mia", "other.txt")
    problem(await desk.call("mia", "DELETE", f"{F}/{other['id']}/links/{short['id']}"), 404)


async def test_a_link_never_opens_a_file_that_is_not_clean(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    for state in ("scan_pending", "infected", "scan_failed"):
        f = await desk.file("mia", f"{state}.txt", state=state)
        made = await desk.link("mia", f["id"], audience="anyone")
        view = (await desk.anon("GET", made["url"])).json()
        assert view["state"] == state
        problem(await desk.anon("GET", view["content_url"]), 403, "forbidden")
        # not even its uploader opens a pending file through a link
        problem(await desk.call("mia", "GET", view["content_url"]), 403)
        refused = await desk.audit("file.download", target=f["id"], outcome="denied")
        assert len(refused) == 2, state
    # once it is clean, the same link opens it
    await desk.set_state(f["id"], "clean")
    assert (await desk.anon("GET", view["content_url"])).status_code == 200


async def test_a_deleted_files_links_stop_and_come_back_with_it(desk: Desk) -> None:
    await desk.policy(sharing_links="anyone")
    f = await desk.file("mia", "plan.txt")
    made = await desk.link("mia", f["id"], audience="anyone")
    assert (await desk.call("mia", "DELETE", f"{F}/{f['id']}")).status_code == 204
    problem(await desk.anon("GET", made["url"]), 404)
    assert (await desk.call("mia", "POST", f"{F}/{f['id']}/restore")).status_code == 200
    assert (await desk.anon("GET", made["url"])).status_code == 200
