"""The tenant meeting policy: the organizer's policy (by group) gives a meeting's defaults
and limits; a policy naming groups that do not exist is refused."""

from __future__ import annotations

import uuid
from typing import Any

from overleg.policy.models import TenantPolicy
from tests.api.conftest import audit, count_rows, problem
from tests.meetings.test_scheduling import Json, Planner, client, planner

__all__ = ["client", "planner"]  # fixtures shared with test_scheduling

POLICIES = "/api/admin/policies/meetings"


async def group_with(planner: Planner, name: str, *members: str) -> str:
    r = await planner.call("olivia", "POST", "/api/admin/groups", json={"name": name})
    assert r.status_code == 201, r.text
    gid: str = r.json()["id"]
    for who in members:
        r = await planner.call(
            "olivia",
            "POST",
            f"/api/admin/groups/{gid}/members",
            json={"user_id": str(planner.world.id(who))},
        )
        assert r.status_code == 204, r.text
    return gid


async def put_policy(planner: Planner, body: dict[str, Any], who: str = "olivia") -> Any:
    return await planner.call(who, "PUT", POLICIES, json=body)


SALES = {
    "lobby_bypass": "everyone",
    "dial_in_bypass": True,
    "who_can_present": "organizer",
    "allow_meeting_chat": False,
}


async def test_a_group_policy_gives_its_members_meetings_other_defaults(planner: Planner) -> None:
    sales = await group_with(planner, "Sales", "sam")
    r = await put_policy(
        planner,
        {
            "default": {"lobby_bypass": "invited"},
            "group_policies": [{"name": "Sales", "group_ids": [sales], "settings": SALES}],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    sams = await planner.schedule("sam", invite=("mia",))
    assert {
        k: sams["options"][k] for k in ("lobby_bypass", "dial_in_bypass", "who_can_present")
    } == {
        "lobby_bypass": "everyone",
        "dial_in_bypass": True,
        "who_can_present": "organizer",
    }
    assert sams["options"]["allow_chat"] is False
    # mia is in no group: the organisation's default
    mias = await planner.schedule("mia", invite=("sam",))
    assert mias["options"]["lobby_bypass"] == "invited"
    assert mias["options"]["who_can_present"] == "everyone"
    assert mias["options"]["dial_in_bypass"] is False and mias["options"]["allow_chat"] is True
    # sam's policy allows no meeting chat: neither when scheduling nor later
    body = planner.body(invite=("mia",), options={"allow_chat": True})
    r = await planner.call("sam", "POST", "/api/v1/meetings", json=body)
    assert "allow_meeting_chat" in problem(r, 422, "validation-failed")["detail"]
    r = await planner.call(
        "sam", "PATCH", f"/api/v1/meetings/{sams['id']}/options", json={"allow_chat": True}
    )
    assert "allow_meeting_chat" in problem(r, 422, "validation-failed")["detail"]
    # the policy governs by organizer: mia's meeting keeps chat although sam is invited
    r = await planner.call(
        "mia", "PATCH", f"/api/v1/meetings/{mias['id']}/options", json={"allow_chat": True}
    )
    assert r.status_code == 200, r.text


async def test_the_first_matching_group_policy_wins(planner: Planner) -> None:
    both = await group_with(planner, "Everyone here", "sam", "mia")
    only_sam = await group_with(planner, "Sales", "sam")
    r = await put_policy(
        planner,
        {
            "group_policies": [
                {"name": "Sales", "group_ids": [only_sam], "settings": SALES},
                {"name": "All", "group_ids": [both], "settings": {"lobby_bypass": "organizer"}},
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert (await planner.schedule("sam"))["options"]["lobby_bypass"] == "everyone"
    assert (await planner.schedule("mia"))["options"]["lobby_bypass"] == "organizer"
    assert (await planner.schedule("hank"))["options"]["lobby_bypass"] == "organization"


async def test_a_policy_naming_unknown_groups_is_refused(planner: Planner) -> None:
    sales = await group_with(planner, "Sales", "sam")
    # a group of another organisation is as unknown as a made-up one
    r = await planner.call("eve", "POST", "/api/admin/groups", json={"name": "Theirs"})
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]
    for bad in (str(uuid.uuid4()), theirs):
        body = {
            "group_policies": [
                {"name": "Sales", "group_ids": [sales], "settings": SALES},
                {"name": "Other", "group_ids": [sales, bad]},
            ]
        }
        p = problem(await put_policy(planner, body), 422, "validation-failed")
        assert p["field"] == "group_policies.1.group_ids" and bad in p["detail"], p
    # schema errors are 422 too
    bad_value = {"default": {"lobby_bypass": "nobody"}}
    assert "lobby_bypass" in problem(await put_policy(planner, bad_value), 422)["detail"]
    dup: Json = {
        "group_policies": [
            {"name": "Sales", "group_ids": [sales]},
            {"name": "sales", "group_ids": [sales]},
        ]
    }
    assert "unique" in problem(await put_policy(planner, dup), 422)["detail"]
    assert await count_rows(planner.rt, TenantPolicy) == 0
    assert await audit(planner.rt, "policy.update") == []
    # members do not set policies (audited)
    problem(await put_policy(planner, {"default": {}}, who="mia"), 403, "forbidden")
    assert [d.actor_label for d in await audit(planner.rt, "policy.manage", outcome="denied")] == [
        "mia@contoso.example"
    ]
    # a good one is stored and audited; the MFA policy, which has no check, still works
    good = {"group_policies": [{"name": "Sales", "group_ids": [sales]}]}
    assert (await put_policy(planner, good)).status_code == 200
    r = await planner.call("olivia", "PUT", "/api/admin/policies/mfa", json={"require": "all"})
    assert r.status_code == 200, r.text
    assert [
        (a.target_id, a.details["version"]) for a in await audit(planner.rt, "policy.update")
    ] == [
        ("meetings", 1),
        ("mfa", 1),
    ]
