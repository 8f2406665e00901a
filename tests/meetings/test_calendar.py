"""The iCalendar invitation: parsed back with ``icalendar`` and checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from tests.api.conftest import audit, problem
from tests.meetings.test_scheduling import Json, Planner, client, planner

__all__ = ["client", "planner"]  # fixtures shared with test_scheduling


async def ics(planner: Planner, who: str, m: Json) -> tuple[Calendar, Event]:
    r = await planner.call(who, "GET", f"/api/v1/meetings/{m['id']}/invitation.ics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    assert r.headers["content-disposition"].endswith('.ics"')
    cal = Calendar.from_ical(r.content)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def mailtos(ev: Event, prop: str) -> list[str]:
    v = ev.get(prop)
    values = v if isinstance(v, list) else [v] if v is not None else []
    return sorted(str(x) for x in values)


async def test_the_organizers_invitation(planner: Planner) -> None:
    m = await planner.schedule(invite=("mia",), emails=("Ext@Example.org",), hours=1.5)
    cal, ev = await ics(planner, "olivia", m)
    assert str(cal["method"]) == "REQUEST" and str(cal["version"]) == "2.0"
    assert str(ev["uid"]) == f"{m['id']}@overleg"
    assert int(ev["sequence"]) == 0
    assert str(ev["status"]) == "CONFIRMED"
    assert str(ev["summary"]) == "Quarterly review"
    start, end = ev["dtstart"].dt, ev["dtend"].dt
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert start == datetime.fromisoformat(m["starts_at"])
    assert end - start == timedelta(minutes=90)
    assert ev["dtstamp"].dt.tzinfo is not None
    assert str(ev["organizer"]) == "mailto:olivia@contoso.example"
    assert ev["organizer"].params["CN"] == "Olivia"
    assert mailtos(ev, "attendee") == ["mailto:ext@example.org", "mailto:mia@contoso.example"]
    assert str(ev["url"]) == m["invitation_url"] and str(ev["location"]) == m["invitation_url"]
    description = str(ev["description"])
    assert m["invitation_url"] in description
    assert f"Conference ID: {m['dial_in']['conference_id']}" in description
    assert f"PIN: {m['dial_in']['pin']}" in description
    # DTSTART/DTEND are written in UTC (the "Z" form), whatever zone the organizer used
    raw = (await planner.call("olivia", "GET", f"/api/v1/meetings/{m['id']}/invitation.ics")).text
    assert f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}" in raw


async def test_each_viewer_gets_the_links_they_may_see(planner: Planner) -> None:
    m = await planner.schedule(invite=("mia",), allow_forwarding=False)
    # the organizer keeps the invitation link; the invitee gets the bare join link, and
    # the dial-in numbers
    _, ev = await ics(planner, "olivia", m)
    assert str(ev["url"]) == m["invitation_url"]
    _, ev = await ics(planner, "mia", m)
    assert str(ev["url"]) == m["join_url"] and "invitation=" not in str(ev["description"])
    assert f"PIN: {m['dial_in']['pin']}" in str(ev["description"])
    # nobody else gets it at all
    for who in ("hank", "eve"):
        r = await planner.call(who, "GET", f"/api/v1/meetings/{m['id']}/invitation.ics")
        problem(r, 404, "not-found")
    denied = await audit(planner.rt, "meeting.read", outcome="denied", target_id=m["id"])
    assert [d.actor_label for d in denied] == ["hank@contoso.example", "eve@fabrikam.example"]


async def test_updates_and_the_cancellation_raise_the_sequence(planner: Planner) -> None:
    m = await planner.schedule(invite=("mia",))
    r = await planner.call(
        "olivia", "PATCH", f"/api/v1/meetings/{m['id']}", json={"subject": "Moved"}
    )
    assert r.status_code == 200, r.text
    cal, ev = await ics(planner, "mia", m)
    assert int(ev["sequence"]) == 1 and str(ev["summary"]) == "Moved"
    assert str(cal["method"]) == "REQUEST"
    r = await planner.call("olivia", "POST", f"/api/v1/meetings/{m['id']}/cancel")
    assert r.status_code == 200, r.text
    cal, ev = await ics(planner, "mia", m)
    assert str(cal["method"]) == "CANCEL" and str(ev["status"]) == "CANCELLED"
    assert int(ev["sequence"]) == 2 and str(ev["uid"]) == f"{m['id']}@overleg"
