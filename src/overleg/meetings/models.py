"""Meeting rows. Private to ``overleg.meetings`` and the migrations.

Everything a meeting needs to go on after a restart is here: who is in, who waits, with
which role and media state. Secrets (participant and gateway credentials) are stored as
SHA-256 of a 256-bit token; the dial-in PIN is sealed with the tenant's data key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from overleg.kernel.db.base import Base, CreatedMixin, IdMixin, TenantScoped


class Meeting(IdMixin, CreatedMixin, TenantScoped, Base):
    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "conference_id", name="tenant_conference"),
        Index("ix_meetings_organizer_start", "organizer_id", "starts_at"),
    )

    #: the unguessable part of the join link (256 bits); found without a tenant scope
    join_code: Mapped[str] = mapped_column(String(64), unique=True)
    #: carried by the invitation (not the bare link): a signed-in person who opens a
    #: forwarded invitation counts as invited, when forwarding is allowed
    invite_key: Mapped[str] = mapped_column(String(64))
    conference_id: Mapped[str] = mapped_column(String(12))  # digits, for dial-in
    pin_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed; aad binds tenant + meeting
    kind: Mapped[str] = mapped_column(String(10))  # scheduled | channel | instant
    subject: Mapped[str] = mapped_column(String(250))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    organizer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[uuid.UUID | None]  # channel meetings
    allow_forwarding: Mapped[bool] = mapped_column(default=True)
    #: iCalendar SEQUENCE: goes up with every change an invitee's calendar must take
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: ``schemas.MeetingOptions`` as JSON
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: scheduled (not cancelled, not ended) | cancelled | ended
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    #: set when a verified person who bypassed the lobby came in; never unset
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(320))
    recording_started_at: Mapped[datetime | None]
    recording_by: Mapped[uuid.UUID | None]  # participant id
    #: the recording running now (``Recording.id``)
    recording_id: Mapped[uuid.UUID | None]


class MeetingInvitee(IdMixin, TenantScoped, Base):
    """Someone invited: an account of the tenant or an e-mail address (guests, federated
    people, anyone). ``forwarded``: added by opening a forwarded invitation."""

    __tablename__ = "meeting_invitees"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id", name="meeting_invitee_user"),
        UniqueConstraint("meeting_id", "email", name="meeting_invitee_email"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    email: Mapped[str | None] = mapped_column(String(320))  # lower case
    forwarded: Mapped[bool] = mapped_column(default=False)
    added_at: Mapped[datetime]


class MeetingParticipant(IdMixin, TenantScoped, Base):
    """One person in (or knocking at) one meeting.

    Accounts of the tenant have one row per meeting (``user_id``), reused when they come
    back; people signed in elsewhere one per ``home_user_id``; anonymous people and
    dial-in callers a new row per join, reached with the row's credential.
    """

    __tablename__ = "meeting_participants"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id", name="meeting_participant_user"),
        UniqueConstraint("meeting_id", "home_user_id", name="meeting_participant_home_user"),
        Index("ix_meeting_participants_state", "meeting_id", "state"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(10))  # rules.ParticipantType
    user_id: Mapped[uuid.UUID | None]  # an account of the meeting's tenant
    home_tenant_id: Mapped[uuid.UUID | None]  # signed in at another organisation
    home_user_id: Mapped[uuid.UUID | None]
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    phone_masked: Mapped[str | None] = mapped_column(String(40))
    invited: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str] = mapped_column(String(12))  # rules.MeetingRole
    #: lobby | in | left | removed | denied
    state: Mapped[str] = mapped_column(String(8))
    #: waits in the lobby only until the meeting starts (rules.Entry.LOBBY_UNTIL_START)
    admit_on_start: Mapped[bool] = mapped_column(default=False)
    #: SHA-256 of the participant credential (people without an account here)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    lobby_since: Mapped[datetime | None]
    first_joined_at: Mapped[datetime | None]
    admitted_by: Mapped[str | None] = mapped_column(String(320))
    left_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    rejoin_blocked: Mapped[bool] = mapped_column(default=False)
    hand_raised_at: Mapped[datetime | None]
    muted: Mapped[bool] = mapped_column(default=True)
    camera_on: Mapped[bool] = mapped_column(default=False)
    sharing: Mapped[bool] = mapped_column(default=False)
    #: a presenter turned this attendee's mic / camera off (Teams' "disable mic")
    mic_disabled: Mapped[bool] = mapped_column(default=False)
    camera_disabled: Mapped[bool] = mapped_column(default=False)
    #: agreed | declined: the decision on the current recording (None: not asked, or
    #: no recording with explicit consent is running)
    consent: Mapped[str | None] = mapped_column(String(8))
    #: chosen by the organizer: never recorded, whatever they consent to
    record_excluded: Mapped[bool] = mapped_column(default=False)


class MeetingAttendance(IdMixin, TenantScoped, Base):
    """One stay in the meeting, for the attendance report (no attention data)."""

    __tablename__ = "meeting_attendance"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting_participants.id", ondelete="CASCADE"), index=True
    )
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    how: Mapped[str] = mapped_column(String(10))  # web | dial_in
    #: bypass (straight in) | admitted | at_start (let in when the meeting started)
    entered_by: Mapped[str] = mapped_column(String(10))


class MeetingMessage(IdMixin, CreatedMixin, TenantScoped, Base):
    """Meeting chat. Sealed like chat messages (aad binds tenant, meeting and message)."""

    __tablename__ = "meeting_messages"
    __table_args__ = (Index("ix_meeting_messages_meeting_created", "meeting_id", "created_at"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    participant_id: Mapped[uuid.UUID]
    author_user_id: Mapped[uuid.UUID | None]
    author_name: Mapped[str] = mapped_column(String(200))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed {"text": ..., "html": ...}
    #: set on the item Overleg posts when a recording is ready (``Recording.id``)
    recording_id: Mapped[uuid.UUID | None]


class DialInGateway(IdMixin, CreatedMixin, TenantScoped, Base):
    """A PSTN/SIP gateway allowed to put phone callers into this tenant's meetings."""

    __tablename__ = "dial_in_gateways"

    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    revoked_at: Mapped[datetime | None]


class ParticipantSocketTicket(IdMixin, TenantScoped, Base):
    """A single-use ticket to open the event socket with a participant credential (a
    browser cannot put a bearer token on a WebSocket handshake). SHA-256 stored only."""

    __tablename__ = "participant_socket_tickets"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting_participants.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class MeetingMedia(TenantScoped, Base):
    """Where a meeting's audio and video live: its room on one Janus instance. The room
    secret is sealed with the tenant's data key (aad: tenant, meeting)."""

    __tablename__ = "meeting_media"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    server: Mapped[str] = mapped_column(String(50))  # JanusServer.name
    room: Mapped[int] = mapped_column(BigInteger)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class MeetingConsent(IdMixin, TenantScoped, Base):
    """Every recording-consent decision, kept for the attendance report and audits."""

    __tablename__ = "meeting_consents"

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meeting_participants.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(String(8))  # agreed | declined
    at: Mapped[datetime]
    #: which recording the decision was about
    recording_started_at: Mapped[datetime]


class Recording(IdMixin, CreatedMixin, TenantScoped, Base):
    """One recording of a meeting, from start to stop, and what became of it.

    States: ``recording`` (Janus writes raw files) -> ``processing`` (stopped; waiting for
    or in post-processing) -> ``ready`` (sealed files in the object store, raw files gone)
    or ``failed`` (raw files kept, an admin alert raised; an admin may retry). A ready
    recording past ``expires_at`` is ``recycled`` (hidden, restorable by its owners), and
    ``purged`` (files deleted, this row kept as the record of it) after the recycle period
    unless something holds it (``meetings.recordings.expiry.PURGE_BLOCKERS``).
    """

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_state", "state"),)

    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    #: the meeting's channel, for channel meetings (its members may view)
    channel_id: Mapped[uuid.UUID | None]
    #: owners: the meeting's organizer and the account that started the recording
    organizer_id: Mapped[uuid.UUID]
    started_by_user_id: Mapped[uuid.UUID | None]
    started_by_participant_id: Mapped[uuid.UUID]
    started_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(10), default="recording")
    #: None: never expires (set from the tenant's recording policy when it started)
    expires_at: Mapped[datetime | None]
    recycled_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    #: post-processing lease: a node that claimed it works on it until then
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    #: the sealed manifest (who was recorded, which time ranges) in the object store
    manifest_object: Mapped[str | None] = mapped_column(String(200))
    manifest_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class RecordingFile(IdMixin, TenantScoped, Base):
    """One feed's media of one person in a recording (WebM video or Opus audio), sealed in
    the object store under a content key that is itself sealed with the tenant's key."""

    __tablename__ = "recording_files"

    recording_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID]
    feed: Mapped[str] = mapped_column(String(8))  # camera | screen
    media: Mapped[str] = mapped_column(String(5))  # audio | video
    content_type: Mapped[str] = mapped_column(String(40))
    object_key: Mapped[str] = mapped_column(String(200))  # storage.check_key: <= 200
    key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]


class RecordingAccess(IdMixin, TenantScoped, Base):
    """An owner's choice for one person: ``allowed`` grants viewing (guests, people not
    invited), or, when false, takes it away from someone who would have it."""

    __tablename__ = "recording_access"
    __table_args__ = (UniqueConstraint("recording_id", "user_id", name="recording_access_user"),)

    recording_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID]
    allowed: Mapped[bool]
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]
