"""The admin alert queue: raising (de-duplicated, audited, announced to the admins who may
read alerts), listing with filters, opening, resolving with a note (once), who may do what,
and that no organisation sees another's alerts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from overleg.kernel import clock
from overleg.kernel.events import outbox
from overleg.kernel.runtime import Runtime
from overleg.threat.service import raise_alert
from tests.api.conftest import audit, problem
from tests.fixtures.world import World
from tests.threat.conftest import ALERTS, FAILED, Queue

INFECTED = "file.infected"
#: the cast members whose roles grant ALERT_READ in contoso
READERS = ("olivia", "sid", "cora")


async def events(
    rt: Runtime, tenant_id: uuid.UUID, type: str
) -> list[tuple[dict[str, Any], set[uuid.UUID]]]:
    """(payload, recipients) of the tenant's committed events of ``type``, oldest first."""
    async with rt.database.session(tenant_id=tenant_id, readonly=True) as db:
        found = await outbox.read(db, tenant_id, after=0, limit=10_000)
    return [(json.loads(e.data), set(e.recipients)) for e in found if e.type == type]


# --- raising ------------------------------------------------------------------------------


async def test_raising_stores_the_alert_audits_it_and_tells_the_alert_readers(
    queue: Queue, world: World
) -> None:
    rt, contoso = world.rt, world.tenants["contoso"].id
    recording = uuid.uuid4()
    alert_id = await queue.raise_(
        severity="high",
        target_id=recording,
        details={"recording_id": recording, "reason": "ffmpeg exited with 1"},
    )
    r = await queue.call("sid", "GET", f"{ALERTS}/{alert_id}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == str(alert_id)
    assert (got["kind"], got["severity"], got["status"]) == (FAILED, "high", "open")
    assert got["title"] == "A recording could not be processed"
    # ids arrive as UUIDs and are kept as the strings the API shows
    assert got["details"] == {"recording_id": str(recording), "reason": "ffmpeg exited with 1"}
    assert (got["target_type"], got["target_id"]) == ("recording", str(recording))
    assert got["resolved_by"] is got["resolved_at"] is got["resolution"] is None

    [rec] = await audit(rt, "alert.raise")
    assert (rec.tenant_id, rec.outcome, rec.actor_type) == (contoso, "success", "system")
    assert rec.actor_label == "system:alerts" and rec.actor_id is None
    assert (rec.target_type, rec.target_id) == ("alert", str(alert_id))
    assert rec.details["kind"] == FAILED and rec.details["about_id"] == str(recording)

    [(payload, to)] = await events(rt, contoso, "alert.raised")
    assert payload == {
        "alert_id": str(alert_id),
        "kind": FAILED,
        "severity": "high",
        "status": "open",
    }
    # global, security and compliance admins; not the user admin, members or guests
    assert to == {world.id(w) for w in READERS}


async def test_an_alert_is_raised_once_while_it_is_open(queue: Queue, world: World) -> None:
    target = uuid.uuid4()
    first = await queue.raise_(target_id=target)
    assert await queue.raise_(target_id=target, title="again", severity="high") == first
    assert await queue.raise_(target_id=str(target)) == first  # the same id as text
    # another target, another kind, or the same id of another type of thing: new alerts
    others = {
        await queue.raise_(target_id=uuid.uuid4()),
        await queue.raise_(target_id=target, kind=INFECTED),
        await queue.raise_(target_id=target, target_type="file"),
    }
    assert first not in others and len(others) == 3
    assert len(await audit(world.rt, "alert.raise")) == 4
    assert len(await events(world.rt, world.tenants["contoso"].id, "alert.raised")) == 4
    shown = await queue.listed("olivia")
    assert len(shown) == 4
    assert next(a for a in shown if a["id"] == str(first))["title"] == (
        "A recording could not be processed"  # the repeat changed nothing
    )
    # once resolved, the same trouble is a new alert
    r = await queue.resolve("sid", first, "re-processed")
    assert r.status_code == 200, r.text
    again = await queue.raise_(target_id=target)
    assert again != first


async def test_alerts_about_nothing_in_particular_are_de_duplicated_by_kind(
    world: World,
) -> None:
    contoso = world.tenants["contoso"].id
    ids = []
    for _ in range(2):
        async with world.rt.database.transaction(tenant_id=contoso) as db:
            ids.append(
                await raise_alert(
                    db, tenant_id=contoso, kind="audit.chain_broken", severity="high", title="x"
                )
            )
    assert ids[0] == ids[1]
    assert len(await audit(world.rt, "alert.raise")) == 1


@pytest.mark.parametrize(
    ("kind", "severity"),
    [
        ("Recording.Failed", "low"),
        ("recording failed", "low"),
        ("a" * 61, "low"),
        (FAILED, "urgent"),
    ],
)
async def test_a_bad_kind_or_severity_is_a_programming_error(
    world: World, kind: str, severity: str
) -> None:
    contoso = world.tenants["contoso"].id
    async with world.rt.database.transaction(tenant_id=contoso) as db:
        with pytest.raises(ValueError, match="bad alert"):
            await raise_alert(
                db,
                tenant_id=contoso,
                kind=kind,
                severity=severity,  # type: ignore[arg-type]
                title="x",
            )
    assert await audit(world.rt, "alert.raise") == []


async def test_a_long_title_is_cut_and_its_white_space_tidied(queue: Queue) -> None:
    alert_id = await queue.raise_(title="  Disk\nfull  " + "x" * 300)
    r = await queue.call("olivia", "GET", f"{ALERTS}/{alert_id}")
    title = r.json()["title"]
    assert len(title) == 200 and title.startswith("Disk full xxx")


# --- listing and opening --------------------------------------------------------------------


async def test_the_queue_lists_newest_first_and_filters_by_status_and_kind(
    queue: Queue,
) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    made: list[uuid.UUID] = []
    for i, kind in enumerate((FAILED, INFECTED, FAILED, INFECTED)):
        clock.freeze(start + timedelta(minutes=i))
        made.append(await queue.raise_(kind=kind))
    clock.freeze(None)  # sessions and step-up are checked against the real time
    r = await queue.resolve("olivia", made[1], "false positive")
    assert r.status_code == 200, r.text

    def ids(alerts: list[dict[str, Any]]) -> list[str]:
        return [a["id"] for a in alerts]

    newest_first = [str(a) for a in reversed(made)]
    assert ids(await queue.listed("cora")) == newest_first
    assert ids(await queue.listed("cora", status="open")) == [
        str(made[3]),
        str(made[2]),
        str(made[0]),
    ]
    assert ids(await queue.listed("cora", status="resolved")) == [str(made[1])]
    assert ids(await queue.listed("cora", kind=INFECTED)) == [str(made[3]), str(made[1])]
    assert ids(await queue.listed("cora", kind=INFECTED, status="open")) == [str(made[3])]
    assert await queue.listed("cora", kind="no.such_kind") == []
    assert ids(await queue.listed("cora", limit=2)) == newest_first[:2]
    for bad in ({"status": "closed"}, {"limit": 0}, {"limit": 1001}, {"unknown": "x"}):
        r = await queue.call("cora", "GET", ALERTS, params=bad)
        problem(r, 422)


async def test_opening_a_missing_alert_is_not_found(queue: Queue) -> None:
    await queue.raise_()
    r = await queue.call("olivia", "GET", f"{ALERTS}/{uuid.uuid4()}")
    problem(r, 404, "not-found")
    r = await queue.call("olivia", "GET", f"{ALERTS}/not-an-id")
    problem(r, 422)


# --- resolving -----------------------------------------------------------------------------


async def test_resolving_keeps_the_note_audits_it_and_tells_the_alert_readers(
    queue: Queue, world: World
) -> None:
    alert_id = await queue.raise_()
    before = clock.now()
    r = await queue.resolve("sid", alert_id, "  Disk freed; re-processed.  ")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "resolved"
    assert got["resolution"] == "Disk freed; re-processed."
    assert got["resolved_by"] == "sid@contoso.example"
    assert datetime.fromisoformat(got["resolved_at"]) >= before
    # and so it stays
    r = await queue.call("olivia", "GET", f"{ALERTS}/{alert_id}")
    assert r.json() == got

    [rec] = await audit(world.rt, "alert.resolve")
    assert (rec.outcome, rec.actor_id, rec.target_id) == ("success", world.id("sid"), str(alert_id))
    assert rec.details == {"kind": FAILED, "resolution": "Disk freed; re-processed."}
    [(payload, to)] = await events(world.rt, world.tenants["contoso"].id, "alert.resolved")
    assert payload["alert_id"] == str(alert_id) and payload["status"] == "resolved"
    assert to == {world.id(w) for w in READERS}


async def test_resolving_twice_is_a_conflict_and_keeps_the_first_resolution(
    queue: Queue, world: World
) -> None:
    alert_id = await queue.raise_()
    r = await queue.resolve("sid", alert_id, "first")
    assert r.status_code == 200, r.text
    r = await queue.resolve("olivia", alert_id, "second")
    body = problem(r, 409, "conflict")
    assert "sid@contoso.example" in body["detail"]
    r = await queue.call("olivia", "GET", f"{ALERTS}/{alert_id}")
    assert (r.json()["resolution"], r.json()["resolved_by"]) == ("first", "sid@contoso.example")
    assert len(await audit(world.rt, "alert.resolve")) == 1


@pytest.mark.parametrize("note", ["", "   ", "x" * 501])
async def test_a_resolution_needs_a_note_of_1_to_500_characters(queue: Queue, note: str) -> None:
    alert_id = await queue.raise_()
    problem(await queue.resolve("olivia", alert_id, note), 422)
    r = await queue.call("olivia", "POST", f"{ALERTS}/{alert_id}/resolve", json={})
    problem(r, 422)
    r = await queue.resolve("olivia", alert_id, "x" * 500)
    assert r.status_code == 200, r.text


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mia", "uma", "gus"])
async def test_people_without_an_alert_role_are_refused_and_it_is_audited(
    queue: Queue, world: World, who: str
) -> None:
    alert_id = await queue.raise_()
    asks = [
        ("GET", ALERTS, None, "alert.read"),
        ("GET", f"{ALERTS}/{alert_id}", None, "alert.read"),
        ("POST", f"{ALERTS}/{alert_id}/resolve", {"resolution": "mine"}, "alert.manage"),
    ]
    for method, path, body, action in asks:
        before = await audit(world.rt, action, actor_id=world.id(who))
        r = await queue.call(who, method, path, json=body)
        problem(r, 403, "forbidden")
        after = await audit(world.rt, action, actor_id=world.id(who))
        assert [x.outcome for x in after[len(before) :]] == ["denied"], (method, path)
    r = await queue.call("olivia", "GET", f"{ALERTS}/{alert_id}")
    assert r.json()["status"] == "open"


async def test_a_compliance_admin_reads_the_queue_but_does_not_resolve(
    queue: Queue, world: World
) -> None:
    alert_id = await queue.raise_()
    assert [a["id"] for a in await queue.listed("cora")] == [str(alert_id)]
    r = await queue.call("cora", "GET", f"{ALERTS}/{alert_id}")
    assert r.status_code == 200, r.text
    problem(await queue.resolve("cora", alert_id, "looked at it"), 403, "forbidden")
    [denied] = await audit(world.rt, "alert.manage", actor_id=world.id("cora"))
    assert denied.outcome == "denied"
    r = await queue.call("cora", "GET", f"{ALERTS}/{alert_id}")
    assert r.json()["status"] == "open"
    assert await audit(world.rt, "alert.resolve") == []


async def test_the_queue_needs_a_fresh_second_factor(queue: Queue, world: World) -> None:
    alert_id = await queue.raise_()
    stale = await world.session_headers("olivia", mfa=False)
    for method, path, body in (
        ("GET", ALERTS, None),
        ("GET", f"{ALERTS}/{alert_id}", None),
        ("POST", f"{ALERTS}/{alert_id}/resolve", {"resolution": "done"}),
    ):
        r = await queue.client.request(method, path, headers=stale, json=body)
        problem(r, 401, "mfa-required")
    r = await queue.call("olivia", "GET", f"{ALERTS}/{alert_id}")
    assert r.json()["status"] == "open"


# --- organisations apart ---------------------------------------------------------------------


async def test_no_organisation_sees_or_resolves_another_organisations_alerts(
    queue: Queue, world: World
) -> None:
    contoso_alert = await queue.raise_()
    fabrikam_alert = await queue.raise_(tenant="fabrikam")
    assert [a["id"] for a in await queue.listed("eve")] == [str(fabrikam_alert)]
    assert [a["id"] for a in await queue.listed("olivia")] == [str(contoso_alert)]
    # "not yours" is answered as "missing", for reading and resolving alike
    for path, body in (
        (f"{ALERTS}/{{}}", None),
        (f"{ALERTS}/{{}}/resolve", {"resolution": "not mine"}),
    ):
        method = "POST" if body else "GET"
        theirs = await queue.call("eve", method, path.format(contoso_alert), json=body)
        missing_id = uuid.uuid4()
        gone = await queue.call("eve", method, path.format(missing_id), json=body)
        a, b = problem(theirs, 404, "not-found"), problem(gone, 404, "not-found")
        assert a["detail"].replace(str(contoso_alert), "<id>") == b["detail"].replace(
            str(missing_id), "<id>"
        )
    denied = await audit(world.rt, "alert.resolve", actor_id=world.id("eve"))
    assert [(r.tenant_id, r.outcome) for r in denied] == [
        (world.tenants["fabrikam"].id, "denied")
    ] * 2
    r = await queue.call("olivia", "GET", f"{ALERTS}/{contoso_alert}")
    assert r.json()["status"] == "open"
    # the same kind about the same target in another organisation is its own alert
    target = uuid.uuid4()
    here = await queue.raise_(target_id=target)
    there = await queue.raise_(tenant="fabrikam", target_id=target)
    assert here != there
    # fabrikam's admin hears of fabrikam's alerts only, contoso's readers of contoso's
    fabrikam_events = await events(world.rt, world.tenants["fabrikam"].id, "alert.raised")
    assert [to for _, to in fabrikam_events] == [{world.id("eve")}] * 2
    contoso_events = await events(world.rt, world.tenants["contoso"].id, "alert.raised")
    assert all(world.id("eve") not in to for _, to in contoso_events)
