"""The rights table of ``meetings.recordings.rules`` on its own (no database): every kind
of viewer, the policy, channel or not, and every state."""

from __future__ import annotations

import pytest

from overleg.meetings.recordings.rules import (
    Need,
    RecordingState,
    Rights,
    Setting,
    Viewer,
    rights,
)

READY = RecordingState.READY
ALLOW = Setting()
NO_DOWNLOAD = Setting(allow_download=False)
VIEW_ONLY = Setting(channel_recordings_view_only=True)

OWNER = Viewer(owner=True)
TEAM_OWNER = Viewer(team_owner=True, channel_member=True)
INVITEE = Viewer(invitee=True)
MEMBER = Viewer(channel_member=True)
GUEST_INVITEE = Viewer(invitee=True, guest=True)
GUEST_MEMBER = Viewer(channel_member=True, guest=True)
STRANGER = Viewer()


def _short(r: Rights) -> str:
    """'-' nothing, 'L' listed only, 'V' view, 'D' view+download; '+M' manage."""
    base = "D" if r.download else "V" if r.view else "L" if r.listed else "-"
    return base + ("+M" if r.manage else "")


@pytest.mark.parametrize(
    ("viewer", "channel", "setting", "expected"),
    [
        (OWNER, False, ALLOW, "D+M"),
        (OWNER, False, NO_DOWNLOAD, "V+M"),
        (OWNER, True, VIEW_ONLY, "D+M"),  # owners keep full rights
        (TEAM_OWNER, True, VIEW_ONLY, "D+M"),
        (TEAM_OWNER, False, ALLOW, "-"),  # a team owner counts for channel recordings only
        (INVITEE, False, ALLOW, "D"),
        (INVITEE, False, NO_DOWNLOAD, "V"),
        (INVITEE, False, VIEW_ONLY, "D"),  # view-only is about channel recordings
        (MEMBER, True, ALLOW, "D"),
        (MEMBER, True, VIEW_ONLY, "V"),
        (MEMBER, False, ALLOW, "-"),  # channel membership counts for channel recordings
        (GUEST_INVITEE, False, ALLOW, "-"),
        (GUEST_MEMBER, True, ALLOW, "-"),
        (STRANGER, False, ALLOW, "-"),
        (Viewer(guest=True, grant=True), False, ALLOW, "D"),
        (Viewer(guest=True, grant=True), True, VIEW_ONLY, "V"),
        (Viewer(guest=True, grant=True), False, NO_DOWNLOAD, "V"),
        (Viewer(grant=True), False, ALLOW, "D"),
        (Viewer(invitee=True, grant=False), False, ALLOW, "-"),
        (Viewer(channel_member=True, grant=False), True, ALLOW, "-"),
        (Viewer(owner=True, grant=False), False, ALLOW, "D+M"),  # owners cannot be denied
        (Viewer(team_owner=True, grant=False), True, ALLOW, "D+M"),
    ],
)
def test_ready(viewer: Viewer, channel: bool, setting: Setting, expected: str) -> None:
    assert _short(rights(viewer, READY, setting, channel=channel)) == expected


@pytest.mark.parametrize(
    ("state", "owner", "others"),
    [
        (RecordingState.RECYCLED, "L+M", "-"),
        (RecordingState.RECORDING, "L+M", "-"),
        (RecordingState.PROCESSING, "L+M", "-"),
        (RecordingState.FAILED, "L+M", "-"),
        (RecordingState.PURGED, "L", "-"),
    ],
)
def test_nothing_to_watch_unless_ready(state: RecordingState, owner: str, others: str) -> None:
    assert _short(rights(OWNER, state, ALLOW, channel=False)) == owner
    assert _short(rights(TEAM_OWNER, state, ALLOW, channel=True)) == owner
    for v in (INVITEE, Viewer(guest=True, grant=True), MEMBER):
        assert _short(rights(v, state, ALLOW, channel=True)) == others


def test_the_reason_download_is_off_is_told() -> None:
    r = rights(MEMBER, READY, VIEW_ONLY, channel=True)
    assert r.has(Need.VIEW) and not r.has(Need.DOWNLOAD) and "view-only" in r.no_download
    r = rights(OWNER, READY, NO_DOWNLOAD, channel=True)
    assert not r.has(Need.DOWNLOAD) and "does not allow" in r.no_download
    assert rights(OWNER, READY, ALLOW, channel=False).no_download == ""
