"""Meeting DTOs. Write models forbid unknown fields (an unknown option is a 422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from overleg.kernel.schemas import InputModel
from overleg.meetings.rules import (
    LobbyBypass,
    MeetingRole,
    ParticipantType,
    WhoCanPresent,
    WhoCanRecord,
)

MAX_COORGANIZERS = 10  # as in Teams
MAX_INVITEES = 1000

# --- options ------------------------------------------------------------------------------


class MeetingOptions(BaseModel):
    """A meeting's options as they are in force (the organizer's policy gives defaults)."""

    lobby_bypass: LobbyBypass
    dial_in_bypass: bool
    who_can_present: WhoCanPresent
    presenters: list[uuid.UUID] = Field(
        default_factory=list, description="accounts who present, for specific_people"
    )
    coorganizers: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_COORGANIZERS)
    allow_mic_for_attendees: bool = True
    allow_camera_for_attendees: bool = True
    allow_chat: bool = True
    lock: bool = False
    who_can_record: WhoCanRecord = WhoCanRecord.ORGANIZERS_AND_PRESENTERS


class MeetingOptionsUpdate(InputModel):
    """Change some options; fields left out stay as they are."""

    lobby_bypass: LobbyBypass | None = None
    dial_in_bypass: bool | None = None
    who_can_present: WhoCanPresent | None = None
    presenters: list[uuid.UUID] | None = Field(default=None, max_length=MAX_INVITEES)
    coorganizers: list[uuid.UUID] | None = Field(
        default=None,
        max_length=MAX_COORGANIZERS,
        description=f"up to {MAX_COORGANIZERS}, chosen from the invitees with an account here",
    )
    allow_mic_for_attendees: bool | None = None
    allow_camera_for_attendees: bool | None = None
    allow_chat: bool | None = None
    lock: bool | None = None
    who_can_record: WhoCanRecord | None = None


# --- scheduling ---------------------------------------------------------------------------


class InviteeIn(InputModel):
    """An account of the organisation (``user_id``) or any e-mail address."""

    user_id: uuid.UUID | None = None
    email: EmailStr | None = None

    @model_validator(mode="after")
    def _one(self) -> InviteeIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email")
        return self


class MeetingCreate(InputModel):
    subject: str = Field(min_length=1, max_length=250)
    starts_at: datetime
    ends_at: datetime
    invitees: list[InviteeIn] = Field(default_factory=list, max_length=MAX_INVITEES)
    allow_forwarding: bool = True
    options: MeetingOptionsUpdate | None = None


class ChannelMeetingCreate(InputModel):
    """A meeting in a channel: its members are the invitees."""

    subject: str = Field(min_length=1, max_length=250)
    starts_at: datetime
    ends_at: datetime
    allow_forwarding: bool = True
    options: MeetingOptionsUpdate | None = None


class InstantMeetingCreate(InputModel):
    """Meet now: starts at once, with the caller in it."""

    subject: str = Field(default="Meet now", min_length=1, max_length=250)
    invitees: list[InviteeIn] = Field(default_factory=list, max_length=MAX_INVITEES)
    options: MeetingOptionsUpdate | None = None


class MeetingUpdate(InputModel):
    subject: str | None = Field(default=None, min_length=1, max_length=250)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    allow_forwarding: bool | None = None
    add_invitees: list[InviteeIn] = Field(default_factory=list, max_length=MAX_INVITEES)
    remove_invitees: list[InviteeIn] = Field(default_factory=list, max_length=MAX_INVITEES)


class PersonRef(BaseModel):
    id: uuid.UUID
    display_name: str


class InviteePublic(BaseModel):
    user_id: uuid.UUID | None
    email: str | None
    display_name: str | None
    forwarded: bool


class DialInInfo(BaseModel):
    conference_id: str
    pin: str


class MeetingPublic(BaseModel):
    id: uuid.UUID
    kind: Literal["scheduled", "channel", "instant"]
    subject: str
    starts_at: datetime
    ends_at: datetime
    organizer: PersonRef
    channel_id: uuid.UUID | None
    status: Literal["scheduled", "cancelled", "ended"]
    started: bool
    allow_forwarding: bool
    join_url: str = Field(description="the link anyone may open; not an invitation")
    invitation_url: str | None = Field(
        description="the link with the invitation key: whoever opens it signed in counts as "
        "invited (while forwarding is allowed); only for the organizer and invitees"
    )
    dial_in: DialInInfo | None = Field(description="for the organizer and invitees")
    options: MeetingOptions
    invitees: list[InviteePublic]
    my_role: MeetingRole | None = Field(description="organizer, coorganizer or None")


# --- in the meeting -----------------------------------------------------------------------


class JoinRequest(InputModel):
    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="required when not signed in; ignored for accounts (their name is used)",
    )
    invitation: str | None = Field(
        default=None, max_length=64, description="the invitation key of the invitation link"
    )


ParticipantState = Literal["lobby", "in", "left", "removed", "denied"]


class ParticipantPublic(BaseModel):
    id: uuid.UUID
    display_name: str
    type: ParticipantType
    role: MeetingRole
    state: ParticipantState
    user_id: uuid.UUID | None
    phone: str | None = Field(description="a dial-in caller's number, masked")
    invited: bool
    lobby_since: datetime | None
    admit_on_start: bool
    hand_raised: bool
    muted: bool
    camera_on: bool
    sharing: bool
    mic_disabled: bool
    camera_disabled: bool
    consent: Literal["agreed", "declined"] | None = Field(
        default=None, description="the decision on the current recording, where asked"
    )
    recording_excluded: bool = Field(
        default=False, description="the organizer chose: this person is never recorded"
    )


class MeetingSummary(BaseModel):
    """What a participant (even an anonymous one) sees of the meeting."""

    id: uuid.UUID
    subject: str
    status: Literal["scheduled", "cancelled", "ended"]
    started: bool
    locked: bool
    allow_chat: bool
    recording: bool = Field(
        description="being recorded now: show the notice (dial-in gateways play their "
        "recording prompt) with the privacy statement"
    )
    consent_required: bool = Field(
        default=False,
        description="recording with explicit consent: agree before unmuting, turning the "
        "camera on or sharing (POST .../recording/consent)",
    )
    privacy_statement_url: str | None = Field(
        default=None, description="the organisation's privacy statement"
    )
    media_available: bool = Field(
        description="audio and video can be used now; false: no media server is configured "
        "or reachable, and the meeting has its lobby, roles and chat only"
    )


class JoinResult(BaseModel):
    meeting: MeetingSummary
    me: ParticipantPublic
    token: str | None = Field(
        default=None,
        description="the participant credential, shown once, for people without an account "
        "here (anonymous, dial-in, other organisations): send it as "
        "'Authorization: Bearer <token>' to the meeting's routes and the event socket",
    )


class RoomView(BaseModel):
    """The meeting as one participant sees it now (for clients that resume)."""

    meeting: MeetingSummary
    me: ParticipantPublic
    participants: list[ParticipantPublic]
    lobby: list[ParticipantPublic] | None = Field(description="only for those who may admit")
    capabilities: list[str]


class RoleChange(InputModel):
    role: Literal["presenter", "attendee"]


class MediaPermissions(InputModel):
    """Allow or disable an attendee's mic and camera (Teams' "disable mic/camera")."""

    mic: bool | None = None
    camera: bool | None = None


class MyMedia(InputModel):
    muted: bool | None = None
    camera_on: bool | None = None
    sharing: bool | None = None


class MeetingMessageCreate(InputModel):
    text: str = Field(min_length=1, max_length=28_000)


class MeetingMessagePublic(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    author_user_id: uuid.UUID | None
    author_name: str
    text: str
    html: str
    created_at: datetime
    #: set on the item Overleg posts when a recording is ready: open it with
    #: ``GET /api/v1/recordings/{recording_id}``
    recording_id: uuid.UUID | None = None


class ConsentIn(InputModel):
    agree: bool


class ExclusionIn(InputModel):
    excluded: bool


class ConsentPublic(BaseModel):
    decision: Literal["agreed", "declined"]
    at: datetime


class AttendanceInterval(BaseModel):
    joined_at: datetime
    left_at: datetime | None
    entered_by: Literal["bypass", "admitted", "at_start"]


class AttendanceRow(BaseModel):
    participant_id: uuid.UUID
    display_name: str
    type: ParticipantType
    email: str | None
    phone: str | None
    role: MeetingRole
    how: Literal["web", "dial_in"]
    first_joined_at: datetime | None
    last_left_at: datetime | None
    seconds_in_meeting: int
    intervals: list[AttendanceInterval]
    recording_consents: list[ConsentPublic] = Field(default_factory=list)


class AttendanceReport(BaseModel):
    meeting_id: uuid.UUID
    subject: str
    started_at: datetime | None
    ended_at: datetime | None
    participants: list[AttendanceRow]


# --- dial-in ------------------------------------------------------------------------------


class DialInJoin(InputModel):
    conference_id: str = Field(pattern=r"^[0-9]{6,12}$")
    pin: str = Field(pattern=r"^[0-9]{4,10}$")
    caller_number: str = Field(min_length=1, max_length=32, pattern=r"^\+?[0-9 ()-]+$")


class DialInGatewayCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)


class DialInGatewayPublic(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class DialInGatewayCreated(BaseModel):
    gateway: DialInGatewayPublic
    token: str = Field(description="shown once; the gateway sends it as a bearer token")


# --- media signalling ---------------------------------------------------------------------

FeedKind = Literal["camera", "screen"]
MAX_SDP = 100_000


def _sdp(v: str) -> str:
    if not v.startswith("v=0") or "\nm=" not in v:
        raise ValueError("not an SDP (it must start with v=0 and have media sections)")
    return v


class PublishRequest(InputModel):
    """An SDP offer for one feed: ``camera`` (microphone and camera) or ``screen``."""

    kind: FeedKind = "camera"
    sdp: str = Field(min_length=10, max_length=MAX_SDP)
    audio: bool = True
    video: bool = True

    @model_validator(mode="after")
    def _check(self) -> PublishRequest:
        _sdp(self.sdp)
        if self.kind == "screen" and self.audio:
            raise ValueError("a screen share carries video only (audio: false)")
        if not (self.audio or self.video):
            raise ValueError("publish audio, video or both")
        return self


class SdpAnswer(BaseModel):
    type: Literal["answer"] = "answer"
    sdp: str


class FeedPublic(BaseModel):
    participant_id: uuid.UUID
    kind: FeedKind


class FeedRef(InputModel):
    participant_id: uuid.UUID
    kind: FeedKind = "camera"


class SubscribeRequest(InputModel):
    feeds: list[FeedRef] = Field(min_length=1, max_length=50)


class SubscriptionOffer(BaseModel):
    subscription_id: str
    type: Literal["offer"] = "offer"
    sdp: str


class SdpIn(InputModel):
    sdp: str = Field(min_length=10, max_length=MAX_SDP)

    @model_validator(mode="after")
    def _check(self) -> SdpIn:
        _sdp(self.sdp)
        return self
