"""Recording in the control plane over HTTP: who may start it, the notice with the
privacy statement, explicit consent, and people the organizer chose not to record."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from overleg.kernel.events.models import OutboxEvent
from tests.meetings.conftest import Hall

START = "/recording/start"


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


async def _meeting(hall: Hall, **options: Any) -> tuple[dict[str, Any], str]:
    w = hall.world
    meeting = await hall.schedule(
        invite=("sam", "mia", "gus"),
        options={
            "lobby_bypass": "invited",
            "coorganizers": [str(w.id("sam"))],
            "who_can_present": "everyone",
            **options,
        },
    )
    return meeting, f"/api/v1/meetings/{meeting['id']}"


async def test_who_may_record(hall: Hall) -> None:
    meeting, m = await _meeting(hall)
    for who in ("olivia", "sam", "mia", "gus"):
        await hall.join(who, meeting)
    anon = await hall.join(None, meeting, name="Visitor")  # waits: "invited" bypass
    r = await hall.call("olivia", "POST", f"{m}/lobby/{anon['me']['id']}/admit")
    assert r.status_code == 200
    assert anon["me"]["role"] == "presenter"  # who_can_present: everyone
    # a presenter who is a guest, or anonymous, never records
    _problem(await hall.call("gus", "POST", m + START), 403)
    _problem(await hall.call(hall.as_participant(anon), "POST", m + START), 403)
    # a presenter of the organisation does (who_can_record: organizers_and_presenters)
    assert (await hall.call("mia", "POST", m + START)).status_code == 204
    _problem(await hall.call("mia", "POST", m + START), 409)  # already
    assert (await hall.call("sam", "POST", f"{m}/recording/stop")).status_code == 204
    # only organizers and co-organizers: mia no longer, sam still
    r = await hall.call(
        "olivia", "PATCH", f"{m}/options", json={"who_can_record": "organizers_and_coorganizers"}
    )
    assert r.status_code == 200, r.text
    _problem(await hall.call("mia", "POST", m + START), 403)
    assert (await hall.call("sam", "POST", m + START)).status_code == 204


async def test_policies_of_organizer_and_starter_both_must_allow(hall: Hall) -> None:
    w = hall.world
    async with w.rt.database.transaction(tenant_id=w.tenant_of("olivia")) as db:
        from overleg.identity import service as identity
        from overleg.identity.schemas import GroupCreate

        g = await identity.create_group(w.operator_in("contoso"), db, GroupCreate(name="No rec"))
        await identity.add_group_member(w.operator_in("contoso"), db, g.id, w.id("mia"))
    await hall.policy(
        "meetings",
        {
            "group_policies": [
                {
                    "name": "No recording",
                    "group_ids": [str(g.id)],
                    "settings": {"allow_recording": False},
                }
            ]
        },
    )
    meeting, m = await _meeting(hall)
    await hall.join("olivia", meeting)
    await hall.join("mia", meeting)
    p = _problem(await hall.call("mia", "POST", m + START), 403)
    assert "your meeting policy" in p["detail"]
    assert (await hall.call("olivia", "POST", m + START)).status_code == 204
    # a meeting organized by mia: her policy governs it, so nobody records
    mias = await hall.schedule("mia", invite=("sam",))
    await hall.join("mia", mias)
    p = _problem(await hall.call("mia", "POST", f"/api/v1/meetings/{mias['id']}{START}"), 403)
    assert "organizer's meeting policy" in p["detail"]


async def test_everyone_gets_the_notice_with_the_privacy_statement(hall: Hall) -> None:
    await hall.policy("privacy", {"statement_url": "https://contoso.example/privacy"})
    meeting, m = await _meeting(hall, lobby_bypass="organization")
    await hall.join("olivia", meeting)
    await hall.join("mia", meeting)
    waiting = await hall.join(None, meeting, name="Waiting")
    assert waiting["me"]["state"] == "lobby"
    assert (await hall.call("olivia", "POST", m + START)).status_code == 204
    async with hall.world.rt.database.transaction(unscoped=True) as db:
        rows = (
            await db.scalars(select(OutboxEvent).where(OutboxEvent.type == "meeting.recording"))
        ).all()
    assert len(rows) == 1
    data = json.loads(rows[0].data)
    assert (
        data["recording"] is True
        and data["privacy_statement_url"] == "https://contoso.example/privacy"
    )
    told = rows[0].recipients
    for who in (str(hall.world.id("olivia")), str(hall.world.id("mia")), waiting["me"]["id"]):
        assert who.replace("-", "") in told  # the lobby hears it too
    # whoever joins later sees it in the answer (dial-in gateways play their prompt)
    late = await hall.join("sam", meeting)
    assert late["meeting"]["recording"] and late["meeting"]["privacy_statement_url"]


async def test_explicit_consent(hall: Hall) -> None:
    await hall.policy("meetings", {"default": {"explicit_recording_consent": True}})
    meeting, m = await _meeting(hall)
    for who in ("olivia", "mia", "sam", "gus"):
        await hall.join(who, meeting)
    r = await hall.call("mia", "PATCH", f"{m}/me/media", json={"muted": False, "camera_on": True})
    assert r.status_code == 200 and not r.json()["muted"]
    gus_id = (await hall.room("gus", m.rsplit("/", 1)[-1]))["me"]["id"]
    r = await hall.call(
        "olivia", "PUT", f"{m}/participants/{gus_id}/recording-exclusion", json={"excluded": True}
    )
    assert r.status_code == 200 and r.json()["recording_excluded"]
    _problem(
        await hall.call(
            "mia", "PUT", f"{m}/participants/{gus_id}/recording-exclusion", json={"excluded": False}
        ),
        403,
    )

    assert (await hall.call("olivia", "POST", m + START)).status_code == 204
    view = await hall.room("mia", m.rsplit("/", 1)[-1])
    assert view["meeting"]["consent_required"]
    assert view["me"]["muted"] and not view["me"]["camera_on"]  # everyone muted at start
    p = _problem(await hall.call("mia", "PATCH", f"{m}/me/media", json={"muted": False}), 403)
    assert "agree to be recorded" in p["detail"]
    # excluded people are never recorded and need no consent to speak
    assert (
        await hall.call("gus", "PATCH", f"{m}/me/media", json={"muted": False})
    ).status_code == 200
    # mia agrees and speaks; sam declines: view-only until the recording stops
    r = await hall.call("mia", "POST", f"{m}/recording/consent", json={"agree": True})
    assert r.status_code == 200 and r.json()["consent"] == "agreed"
    assert (
        await hall.call("mia", "PATCH", f"{m}/me/media", json={"muted": False})
    ).status_code == 200
    r = await hall.call("sam", "POST", f"{m}/recording/consent", json={"agree": False})
    assert r.status_code == 200 and r.json()["consent"] == "declined"
    p = _problem(await hall.call("sam", "PATCH", f"{m}/me/media", json={"sharing": True}), 403)
    assert "declined" in p["detail"]
    _problem(await hall.call("sam", "POST", f"{m}/recording/consent", json={"agree": True}), 409)
    # the decisions are in the attendance report, and audited
    report = (await hall.call("olivia", "GET", f"{m}/attendance")).json()
    decisions = {
        r["display_name"]: [c["decision"] for c in r["recording_consents"]]
        for r in report["participants"]
    }
    assert decisions["Mia"] == ["agreed"] and decisions["Sam"] == ["declined"]
    # when it stops, everyone is free again
    assert (await hall.call("olivia", "POST", f"{m}/recording/stop")).status_code == 204
    assert (
        await hall.call("sam", "PATCH", f"{m}/me/media", json={"muted": False})
    ).status_code == 200
    _problem(await hall.call("sam", "POST", f"{m}/recording/consent", json={"agree": True}), 409)
