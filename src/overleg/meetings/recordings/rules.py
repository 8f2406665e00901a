"""Who may list, watch, download and manage a meeting recording, as pure functions. No
I/O: ``access`` loads the facts, asks here, and enforces the answer.

It follows Teams' recordings in OneDrive and SharePoint:

- Owners have full rights: the meeting's organizer, the person who started the recording,
  and for a channel meeting the owners of the channel's team. They view, download (when
  the organisation allows downloads at all) and manage: give or take away access per
  person, change the expiry, delete to the recycle state, restore.
- Invitees with an account of the organisation, and for a channel meeting the channel's
  members, view. Guests and people of other organisations view only when an owner grants
  it to them explicitly; so does anyone else of the organisation.
- An explicit deny takes viewing away from anyone but owners.
- Downloading needs viewing, the tenant policy's ``allow_download``, and (for channel
  recordings, people who are not owners) ``channel_recordings_view_only`` off.
- Only a ``ready`` recording is watched. A ``recycled`` one is listed (and restorable) to
  those who manage it only; ``recording``, ``processing``, ``failed`` and ``purged`` ones
  are listed to owners with their state, with nothing to watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RecordingState(StrEnum):
    RECORDING = "recording"  # Janus writes raw files
    PROCESSING = "processing"  # stopped; waiting for or in post-processing
    READY = "ready"
    FAILED = "failed"
    RECYCLED = "recycled"  # expired or deleted; restorable until purged
    PURGED = "purged"  # files gone; the row stays as the record of it


class Need(StrEnum):
    """What a call needs of a recording."""

    SEE = "see"  # listed, its details shown
    VIEW = "view"  # streamed
    DOWNLOAD = "download"
    MANAGE = "manage"


@dataclass(frozen=True)
class Viewer:
    """The facts about one person and one recording."""

    #: the meeting's organizer or the person who started the recording
    owner: bool = False
    #: an owner of the team whose channel held the meeting (channel recordings only)
    team_owner: bool = False
    #: invited to the meeting with their account (not by e-mail address only)
    invitee: bool = False
    #: a member of the meeting's channel (channel recordings only)
    channel_member: bool = False
    #: a guest account (or anyone not a member of the organisation)
    guest: bool = False
    #: an owner's explicit choice for this person: True grants, False denies, None: none
    grant: bool | None = None


@dataclass(frozen=True)
class Setting:
    """The tenant's recording policy, as far as rights go."""

    allow_download: bool = True
    channel_recordings_view_only: bool = False


@dataclass(frozen=True)
class Rights:
    listed: bool = False
    view: bool = False
    download: bool = False
    manage: bool = False
    #: for someone who may view but not download: why (to tell them)
    no_download: str = ""

    def has(self, need: Need) -> bool:
        return {
            Need.SEE: self.listed,
            Need.VIEW: self.view,
            Need.DOWNLOAD: self.download,
            Need.MANAGE: self.manage,
        }[need]


NOTHING = Rights()


def full_rights(v: Viewer, *, channel: bool) -> bool:
    """Owners, and owners of the channel's team for channel recordings."""
    return v.owner or (channel and v.team_owner)


def rights(v: Viewer, state: RecordingState, s: Setting, *, channel: bool) -> Rights:
    """What ``v`` may do with a recording in ``state`` (``channel``: of a channel meeting)."""
    owner = full_rights(v, channel=channel)
    if owner:
        viewer = True
    elif v.grant is not None:
        viewer = v.grant  # an explicit choice wins over everything but ownership
    else:
        viewer = not v.guest and (v.invitee or (channel and v.channel_member))
    if state is RecordingState.READY:
        if not viewer:
            return NOTHING
        no_download = ""
        if not s.allow_download:
            no_download = "the organisation does not allow downloading recordings"
        elif channel and not owner and s.channel_recordings_view_only:
            no_download = "channel recordings are view-only for members"
        return Rights(
            listed=True,
            view=True,
            download=not no_download,
            manage=owner,
            no_download=no_download,
        )
    if not owner:
        return NOTHING
    # nothing to watch; owners still see it and (until it is purged) manage it
    return Rights(listed=True, manage=state is not RecordingState.PURGED)
