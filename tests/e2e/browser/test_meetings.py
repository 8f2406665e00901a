"""Meetings in the browser, with a real Janus: a guest without an account waits in the
lobby until the organizer admits them, then both see each other's video with frames
flowing (WebRTC through Overleg's signalling, DTLS-SRTP to Janus); with explicit recording
consent, a participant sees the recording notice with the privacy statement, declines,
and cannot unmute."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from overleg.kernel.clock import now
from overleg.meetings import scheduling
from overleg.meetings.rules import LobbyBypass
from overleg.meetings.schemas import MeetingCreate, MeetingOptionsUpdate
from overleg.policy.service import set_policy
from tests.e2e.browser.conftest import Site
from tests.fixtures.janus import JanusInstance
from tests.fixtures.janus import janus as janus  # the fixture

PRIVACY = "https://contoso.example/privacy"
#: decoded frames a tile must show beyond the first count: video keeps arriving
MORE_FRAMES = 10


@pytest.fixture
def settings_overrides(janus: JanusInstance, tmp_path: Path) -> dict[str, object]:
    return {
        "media_janus": [json.loads(janus.server.model_dump_json())],
        "media_api_secret": janus.api_secret,
        "media_admin_key": janus.admin_key,
        # outside Janus' protected folders (the fixture's recordings folder is)
        "media_recordings_dir": janus.recordings_dir / tmp_path.name,
    }


async def frames_flow(page: Page, figure: Locator) -> None:
    """The tile's <video> decodes new frames: MORE_FRAMES beyond the count it had when
    first seen (the element is looked up on every check: a tile may render a new one)."""
    await expect(figure.locator("video")).to_be_visible()
    pid = await figure.get_attribute("data-participant-id")
    kind = await figure.get_attribute("data-kind")
    await page.wait_for_function(
        """([sel, more]) => {
            const v = document.querySelector(sel);
            if (!v) return false;
            const n = v.getVideoPlaybackQuality().totalVideoFrames;
            if (v.dataset.firstFrames === undefined) v.dataset.firstFrames = String(n);
            return n >= Number(v.dataset.firstFrames) + more;
        }""",
        arg=[f'figure.tile[data-participant-id="{pid}"][data-kind="{kind}"] video', MORE_FRAMES],
    )


def tile(page: Page, name: str) -> Locator:
    return page.locator('figure.tile[data-kind="camera"]', has_text=name)


async def test_a_guest_waits_in_the_lobby_is_admitted_and_both_see_video(site: Site) -> None:
    olivia = await site.sign_in("olivia")
    await olivia.get_by_role("link", name="Meetings").click()
    await expect(olivia.get_by_text("No meetings planned.")).to_be_visible()
    await olivia.get_by_role("button", name="Schedule a meeting").click()
    await olivia.get_by_label("Subject").fill("Parents' evening")
    await olivia.get_by_label("Find people in your organisation").fill("mi")
    await olivia.get_by_role("button", name="Invite Mia").click()
    await expect(olivia.get_by_role("list", name="Invited").get_by_text("Mia")).to_be_visible()
    # anonymous people wait in the lobby
    await olivia.get_by_label("Who can bypass the lobby?").select_option("organization")
    assert await site.axe(olivia) == []
    await olivia.get_by_role("button", name="Schedule", exact=True).click()
    item = olivia.locator("li.meeting-item", has_text="Parents' evening")
    await expect(item).to_be_visible()
    join_url = await item.get_attribute("data-join-url")
    assert join_url is not None and "/meet/" in join_url
    code = join_url.rsplit("/", 1)[-1]

    # the organizer: pre-join (camera preview), then in
    await item.get_by_role("button", name="Join Parents' evening").click()
    await expect(olivia.get_by_label("Your camera")).to_be_visible()
    await expect(olivia.get_by_role("switch", name="Camera")).to_be_checked()
    assert await site.axe(olivia) == []
    await olivia.get_by_role("button", name="Join now").click()
    await expect(olivia.get_by_role("group", name="Meeting controls")).to_be_visible()

    # a guest without an account opens the link, gives a name, and waits
    guest = await site.page("guest")
    await guest.goto(f"{site.base}/meet/{code}")
    await guest.get_by_role("button", name="Join now").click()
    await expect(guest.get_by_text("Type the name others will see")).to_be_visible()
    await guest.get_by_label("Your name").fill("Jan de Vries")
    assert await site.axe(guest) == []
    await guest.get_by_role("button", name="Join now").click()
    await expect(guest.get_by_text("Someone in the meeting will let you in soon.")).to_be_visible()
    assert await site.axe(guest) == []

    # the organizer is told, opens the lobby and admits
    await olivia.get_by_role("button", name="View lobby").click()
    lobby = olivia.get_by_test_id("lobby-panel")
    await expect(lobby.get_by_text("Jan de Vries")).to_be_visible()
    assert await site.axe(olivia) == []
    await site.shot(olivia, "meeting-lobby")
    await lobby.get_by_role("button", name="Admit Jan de Vries").click()
    await expect(olivia.get_by_test_id("lobby-panel")).to_have_count(0)

    # both see the other's video, with frames coming in
    await expect(guest.get_by_role("group", name="Meeting controls")).to_be_visible()
    await frames_flow(olivia, tile(olivia, "Jan de Vries"))
    await frames_flow(guest, tile(guest, "Olivia"))
    await expect(olivia.locator(".meeting-panel").get_by_text("Jan de Vries")).to_be_visible()
    assert await site.axe(guest) == []
    assert await site.axe(olivia) == []

    # a reload resumes with the participant credential: same person, no lobby again
    await guest.reload()
    await expect(guest.get_by_text("You join as Jan de Vries.")).to_be_visible()
    await guest.get_by_role("button", name="Join now").click()
    await frames_flow(olivia, tile(olivia, "Jan de Vries"))
    await expect(olivia.get_by_text("2 in the meeting")).to_be_visible()

    # mia, signed in and invited, opens the same link: straight in, in her workspace
    mia = await site.sign_in("mia")
    await mia.goto(f"{site.base}/meet/{code}")
    await expect(mia.get_by_text("You join as Mia.")).to_be_visible()
    await mia.get_by_role("button", name="Join now").click()
    await expect(mia.get_by_role("group", name="Meeting controls")).to_be_visible()
    await expect(mia).to_have_url(re.compile(r"/m/[0-9a-f-]{36}$"))
    await frames_flow(mia, tile(mia, "Olivia"))
    await mia.get_by_role("button", name="Leave").click()
    await expect(mia.get_by_role("button", name="Back to meetings")).to_be_visible()

    # the guest leaves: gone from the organizer's meeting, with a way back in
    await guest.get_by_role("button", name="Leave").click()
    await expect(guest.get_by_text("You left the meeting.")).to_be_visible()
    await expect(guest.get_by_role("button", name="Rejoin")).to_be_visible()
    await expect(tile(olivia, "Jan de Vries")).to_have_count(0)
    await expect(olivia.get_by_text("1 in the meeting")).to_be_visible()


async def test_a_participant_who_declines_recording_consent_cannot_unmute(site: Site) -> None:
    who = site.world.principal("olivia")
    async with site.rt.database.transaction(tenant_id=who.tenant_id) as db:
        await set_policy(who, db, "meetings", {"default": {"explicit_recording_consent": True}})
        await set_policy(who, db, "privacy", {"statement_url": PRIVACY})
        start = now() + timedelta(minutes=5)
        meeting = await scheduling.create_meeting(
            who,
            db,
            MeetingCreate(
                subject="Budget review",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                options=MeetingOptionsUpdate(lobby_bypass=LobbyBypass.EVERYONE),
            ),
        )
    code = meeting.join_url.rsplit("/", 1)[-1]

    olivia = await site.sign_in("olivia")
    await olivia.goto(f"{site.base}/m/{meeting.id}")
    await olivia.get_by_role("button", name="Join now").click()
    controls = olivia.get_by_role("group", name="Meeting controls")
    await expect(
        controls.get_by_role("button", name="Mute", exact=True)
    ).to_be_visible()  # her mic is on

    guest = await site.page("guest")
    await guest.goto(f"{site.base}/join/{code}")
    await guest.get_by_label("Your name").fill("Jan de Vries")
    await guest.get_by_role("button", name="Join now").click()
    theirs = guest.get_by_role("group", name="Meeting controls")
    await expect(theirs.get_by_role("button", name="Mute", exact=True)).to_be_visible()
    await frames_flow(olivia, tile(olivia, "Jan de Vries"))

    await controls.get_by_role("button", name="Start recording").click()

    # everyone sees the notice and the privacy statement, and is asked
    banner = guest.get_by_test_id("recording-banner")
    await expect(banner).to_contain_text("Recording.")
    await expect(banner.get_by_role("link", name="Privacy statement")).to_have_attribute(
        "href", PRIVACY
    )
    await expect(olivia.get_by_test_id("recording-banner")).to_be_visible()
    asked = guest.get_by_role("alertdialog", name="Do you agree to be recorded?")
    await expect(asked).to_be_visible()
    await expect(
        theirs.get_by_role("button", name="Unmute")
    ).to_be_disabled()  # muted until agreeing
    assert await site.axe(guest) == []
    await site.shot(guest, "recording-consent")

    await asked.get_by_role("button", name="Decline").click()
    await expect(asked).to_have_count(0)
    await expect(guest.get_by_text("You declined to be recorded")).to_be_visible()
    await expect(theirs.get_by_role("button", name="Unmute")).to_be_disabled()
    await expect(theirs.get_by_role("button", name="Turn camera on")).to_be_disabled()
    assert await site.axe(guest) == []

    # not just the button: the server refuses the guest's unmute
    status = await guest.evaluate(
        """async ([code, meetingId]) => {
            const kept = JSON.parse(sessionStorage.getItem(`overleg.meeting.${code}`));
            const r = await fetch(`/api/v1/meetings/${meetingId}/me/media`, {
                method: "PATCH",
                headers: {
                    "Authorization": `Bearer ${kept.token}`,
                    "Content-Type": "application/json",
                },
                body: JSON.stringify({muted: false}),
            });
            return r.status;
        }""",
        [code, str(meeting.id)],
    )
    assert status == 403

    # the organizer sees the decision; she agrees herself and may unmute again
    await controls.get_by_role("button", name="People (2)").click()
    panel = olivia.locator(".meeting-panel")
    await expect(
        panel.locator("li", has_text="Jan de Vries").get_by_text("Not recorded: view only")
    ).to_be_visible()
    await olivia.get_by_role("alertdialog").get_by_role("button", name="I agree").click()
    await controls.get_by_role("button", name="Unmute").click()
    await expect(controls.get_by_role("button", name="Mute", exact=True)).to_be_visible()
    await expect(theirs.get_by_role("button", name="Unmute")).to_be_disabled()


async def test_meet_now_deny_hands_chat_screen_share_roles_and_ending_for_everyone(
    site: Site,
) -> None:
    olivia = await site.sign_in("olivia")
    await olivia.get_by_role("link", name="Meetings").click()
    await olivia.get_by_role("button", name="Meet now").click()
    await olivia.get_by_role("button", name="Join now").click()
    controls = olivia.get_by_role("group", name="Meeting controls")
    await controls.get_by_role("button", name="People (1)").click()
    link = await olivia.get_by_label("Meeting link, to invite more people").input_value()
    code = link.rsplit("/", 1)[-1]

    # two people without an account knock: one is denied, the other admitted
    piet = await site.page("piet")
    await piet.goto(f"{site.base}/meet/{code}")
    await piet.get_by_label("Your name").fill("Piet")
    await piet.get_by_role("button", name="Join now").click()
    await expect(piet.get_by_text("Someone in the meeting will let you in soon.")).to_be_visible()
    guest = await site.page("guest")
    await guest.goto(f"{site.base}/meet/{code}")
    await guest.get_by_label("Your name").fill("Jan de Vries")
    await guest.get_by_role("switch", name="Microphone").uncheck()  # joins muted
    await guest.get_by_role("button", name="Join now").click()
    await expect(guest.get_by_text("Someone in the meeting will let you in soon.")).to_be_visible()
    lobby = olivia.get_by_test_id("lobby-panel")
    await expect(lobby).to_contain_text("Waiting in the lobby (2)")
    await lobby.get_by_role("button", name="Deny Piet").click()
    await expect(piet.get_by_text("You were not let in to this meeting.")).to_be_visible()
    await lobby.get_by_role("button", name="Admit Jan de Vries").click()
    theirs = guest.get_by_role("group", name="Meeting controls")
    await expect(theirs.get_by_role("button", name="Unmute")).to_be_visible()
    await expect(tile(olivia, "Jan de Vries")).to_contain_text("Muted")

    # a raised hand shows on the organizer's page; she lowers it
    await theirs.get_by_role("button", name="Raise hand").click()
    await expect(tile(olivia, "Jan de Vries")).to_contain_text("Hand raised")
    row = olivia.locator(".meeting-panel li", has_text="Jan de Vries")
    await row.get_by_label("Actions for Jan de Vries").click()
    await row.get_by_role("button", name="Lower hand").click()
    await expect(theirs.get_by_role("button", name="Raise hand")).to_be_visible()
    await expect(tile(olivia, "Jan de Vries")).not_to_contain_text("Hand raised")

    # he unmutes; the organizer mutes him
    await theirs.get_by_role("button", name="Unmute").click()
    await expect(tile(olivia, "Jan de Vries")).not_to_contain_text("Muted")
    await row.get_by_label("Actions for Jan de Vries").click()
    await row.get_by_role("button", name="Mute", exact=True).click()
    await expect(theirs.get_by_role("button", name="Unmute")).to_be_visible()

    # the meeting chat, live both ways
    await theirs.get_by_role("button", name="Chat").click()
    await guest.get_by_label("Message to everyone in the meeting").fill("Goedenavond **allemaal**")
    await guest.keyboard.press("Enter")
    await expect(controls.get_by_label("1 new messages")).to_be_visible()
    await controls.get_by_role("button", name=re.compile("^Chat")).click()
    chat = olivia.locator(".chat-list")
    await expect(chat.locator("strong", has_text="allemaal")).to_be_visible()
    await expect(chat).to_contain_text("Jan de Vries")
    assert await site.axe(olivia) == []

    # the guest (a presenter) shares the screen: the organizer receives it
    await theirs.get_by_role("button", name="Share screen").click()
    await frames_flow(olivia, olivia.locator('figure.tile[data-kind="screen"]'))
    await expect(olivia.locator('figure.tile[data-kind="screen"]')).to_contain_text(
        "Jan de Vries is sharing their screen"
    )

    # made attendee: the share stops at once, and attendees do not share
    await controls.get_by_role("button", name="People (2)").click()
    await row.get_by_label("Actions for Jan de Vries").click()
    await row.get_by_role("button", name="Make attendee").click()
    await expect(row).to_contain_text("Attendee")
    await expect(olivia.locator('figure.tile[data-kind="screen"]')).to_have_count(0)
    await expect(theirs.get_by_role("button", name="Share screen")).to_have_count(0)
    await expect(theirs.get_by_role("button", name="Stop sharing")).to_have_count(0)

    # the organizer ends the meeting for everyone
    olivia.once("dialog", lambda d: d.accept())
    await controls.get_by_role("button", name="End for everyone").click()
    await expect(guest.get_by_text("The meeting has ended.")).to_be_visible()
    await expect(olivia.get_by_text("The meeting has ended.")).to_be_visible()
    await expect(guest.get_by_role("button", name="Rejoin")).to_have_count(0)
    assert await site.axe(guest) == []
