"""The capability table, every row for every role, through the HTTP API.

For each (role, capability) a fresh meeting: olivia organizes (sam co-organizes, mia is
the named presenter, hank an attendee, an anonymous person made presenter), the target is
the guest gus (an attendee). A permitted call succeeds; a refused one is a 403 problem,
audited as denied, and changes nothing anyone in the meeting can see.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from overleg.audit.models import AuditRecord
from tests.meetings.conftest import Hall

CAPS = (
    "share_content",
    "mute_others",
    "manage_attendee_media",
    "lower_hands",
    "remove",
    "admit",
    "change_roles",
    "record",
    "change_options",
    "end_meeting",
)
Y, N = True, False
# role -> allowed per capability, in the order of CAPS
TABLE: dict[str, tuple[bool, ...]] = {
    "organizer": (Y, Y, Y, Y, Y, Y, Y, Y, Y, Y),
    "co-organizer": (Y, Y, Y, Y, Y, Y, Y, Y, Y, Y),  # options: the meeting has started
    "presenter": (Y, Y, Y, Y, Y, Y, Y, Y, N, N),
    "attendee": (N, N, N, N, N, N, N, N, N, N),
    "anonymous presenter": (Y, N, Y, N, N, Y, Y, N, N, N),  # never records
}
# with the tenant's limit_presenter_permissions on
LIMITED: dict[str, tuple[bool, ...]] = {
    "presenter": (Y, Y, N, N, N, Y, N, Y, N, N),
    "anonymous presenter": (Y, N, N, N, N, Y, N, N, N, N),
}
ACTOR = {"organizer": "olivia", "co-organizer": "sam", "presenter": "mia", "attendee": "hank"}


async def _setup(hall: Hall, role: str, cap: str) -> tuple[Any, str, dict[str, Any]]:
    """(the actor's credentials, the meeting id, gus's participant) with the actor and gus
    in the meeting (gus still in the lobby for "admit")."""
    w = hall.world
    meeting = await hall.schedule(
        invite=("sam", "mia"),
        options={
            "lobby_bypass": "invited",
            "who_can_present": "specific_people",
            "presenters": [str(w.id("mia"))],
            "coorganizers": [str(w.id("sam"))],
        },
    )
    mid = meeting["id"]
    await hall.join("olivia", meeting)
    actor: Any = "olivia"
    if role in ACTOR:
        actor = ACTOR[role]
        if actor != "olivia":
            me = await hall.join(actor, meeting)
            if me["me"]["state"] == "lobby":
                r = await hall.call(
                    "olivia", "POST", f"/api/v1/meetings/{mid}/lobby/{me['me']['id']}/admit"
                )
                assert r.status_code == 200, r.text
            expected = {"co-organizer": "coorganizer"}.get(role, role)
            assert (await hall.room(actor, mid))["me"]["role"] == expected
    else:
        anon = await hall.join(None, meeting, name="Ann")
        pid = anon["me"]["id"]
        r = await hall.call("olivia", "POST", f"/api/v1/meetings/{mid}/lobby/{pid}/admit")
        assert r.status_code == 200, r.text
        r = await hall.call(
            "olivia",
            "PUT",
            f"/api/v1/meetings/{mid}/participants/{pid}/role",
            json={"role": "presenter"},
        )
        assert r.status_code == 200, r.text
        actor = hall.as_participant(anon)
    gus = (await hall.join("gus", meeting))["me"]
    assert gus["state"] == "lobby"
    if cap != "admit":
        r = await hall.call("olivia", "POST", f"/api/v1/meetings/{mid}/lobby/{gus['id']}/admit")
        assert r.status_code == 200, r.text
    if cap == "lower_hands":
        r = await hall.call("gus", "POST", f"/api/v1/meetings/{mid}/me/hand")
        assert r.status_code == 200 and r.json()["hand_raised"], r.text
    return actor, mid, gus


async def _attempt(hall: Hall, actor: Any, mid: str, gus: dict[str, Any], cap: str) -> int:
    m, t = f"/api/v1/meetings/{mid}", gus["id"]
    calls: dict[str, tuple[str, str, Any]] = {
        "share_content": ("PATCH", f"{m}/me/media", {"sharing": True}),
        "mute_others": ("POST", f"{m}/participants/{t}/mute", None),
        "manage_attendee_media": ("PUT", f"{m}/participants/{t}/media-permissions", {"mic": False}),
        "lower_hands": ("POST", f"{m}/participants/{t}/lower-hand", None),
        "remove": ("DELETE", f"{m}/participants/{t}", None),
        "admit": ("POST", f"{m}/lobby/{t}/admit", None),
        "change_roles": ("PUT", f"{m}/participants/{t}/role", {"role": "presenter"}),
        "record": ("POST", f"{m}/recording/start", None),
        "change_options": ("PATCH", f"{m}/options", {"allow_chat": False}),
        "end_meeting": ("POST", f"{m}/end", None),
    }
    method, path, body = calls[cap]
    r = await hall.call(actor, method, path, json=body)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code


async def _visible_state(hall: Hall, mid: str) -> Any:
    view = await hall.room("olivia", mid)
    return view["meeting"], sorted(view["participants"], key=lambda p: p["id"]), view["lobby"]


async def _denials(hall: Hall) -> int:
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        rows = await db.scalars(
            select(AuditRecord.id).where(
                AuditRecord.outcome == "denied", AuditRecord.action.like("meeting.%")
            )
        )
        return len(rows.all())


async def _check(hall: Hall, role: str, cap: str, allowed: bool) -> str | None:
    actor, mid, gus = await _setup(hall, role, cap)
    before = await _visible_state(hall, mid)
    denials = await _denials(hall)
    status = await _attempt(hall, actor, mid, gus, cap)
    if allowed:
        return None if status in (200, 204) else f"{role}/{cap}: expected success, got {status}"
    if status != 403:
        return f"{role}/{cap}: expected 403, got {status}"
    if await _visible_state(hall, mid) != before:
        return f"{role}/{cap}: a refused call changed the meeting"
    if await _denials(hall) != denials + 1:
        return f"{role}/{cap}: the refusal was not audited"
    return None


@pytest.mark.parametrize("role", list(TABLE))
async def test_capability_table(hall: Hall, role: str) -> None:
    wrong = [
        e
        for cap, allowed in zip(CAPS, TABLE[role], strict=True)
        if (e := await _check(hall, role, cap, allowed))
    ]
    assert not wrong, wrong


@pytest.mark.parametrize("role", list(LIMITED))
async def test_capability_table_with_limited_presenters(hall: Hall, role: str) -> None:
    await hall.policy("meetings", {"default": {"limit_presenter_permissions": True}})
    wrong = [
        e
        for cap, allowed in zip(CAPS, LIMITED[role], strict=True)
        if (e := await _check(hall, role, cap, allowed))
    ]
    assert not wrong, wrong
