"""Typed tenant policies. Each kind has a schema and a default used until a version exists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from overleg.identity.schemas import validate_domain
from overleg.meetings.rules import LobbyBypass, WhoCanAdmit, WhoCanPresent


class MfaPolicy(BaseModel):
    """Who must use a second factor at sign-in."""

    model_config = ConfigDict(extra="forbid")

    require: Literal["all", "admins", "off"] = Field(
        default="admins",
        description="all: every user; admins: anyone holding an admin role; off: nobody",
    )
    allow_recovery_codes: bool = True
    passwordless_passkeys: bool = Field(
        default=False,
        description="people may sign in with a passkey alone (no password); a passkey with "
        "user verification counts as phishing-resistant multi-factor authentication",
    )


class MeetingPolicySettings(BaseModel):
    """One meeting policy (Teams' ``CsTeamsMeetingPolicy``): defaults for organizers, and
    limits they may not exceed. The organizer's policy governs a meeting."""

    model_config = ConfigDict(extra="forbid")

    # defaults: an organizer may change these in a meeting's options
    lobby_bypass: LobbyBypass = Field(
        default=LobbyBypass.ORGANIZATION, description="who bypasses the lobby by default"
    )
    dial_in_bypass: bool = Field(default=False, description="dial-in callers bypass the lobby")
    who_can_present: WhoCanPresent = WhoCanPresent.EVERYONE
    # limits: the organizer cannot change these
    anonymous_join: bool = Field(
        default=True, description="people who are not signed in may join (through the lobby)"
    )
    anonymous_can_start: bool = Field(
        default=False,
        description="anonymous people and dial-in callers who bypass the lobby may start "
        "the meeting; off: they wait until a signed-in person is in",
    )
    who_can_admit: WhoCanAdmit = WhoCanAdmit.ORGANIZERS_AND_PRESENTERS
    limit_presenter_permissions: bool = Field(
        default=False,
        description="presenters cannot manage attendee mics and cameras, change roles, lower "
        "hands or remove people",
    )
    allow_recording: bool = True
    explicit_recording_consent: bool = False
    allow_meeting_chat: bool = True


class GroupMeetingPolicy(BaseModel):
    """A policy for the members of some groups. Earlier entries rank higher."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    group_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    settings: MeetingPolicySettings = Field(default_factory=MeetingPolicySettings)


class MeetingPolicy(BaseModel):
    """The organisation's meeting policies: ``default`` (Teams' "Global (Org-wide
    default)") and policies assigned to groups; an organizer gets the first group policy
    whose groups include them, else the default."""

    model_config = ConfigDict(extra="forbid")

    default: MeetingPolicySettings = Field(default_factory=MeetingPolicySettings)
    group_policies: list[GroupMeetingPolicy] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _unique_names(self) -> MeetingPolicy:
        names = [g.name.casefold() for g in self.group_policies]
        if len(names) != len(set(names)):
            raise ValueError("group policy names must be unique")
        return self


class FederationPolicy(BaseModel):
    """External access (Teams' "organizations you trust"). Federation between servers
    arrives later; today the list decides how people of other organisations on this
    server join meetings: trusted ones as federated, the rest as anonymous."""

    model_config = ConfigDict(extra="forbid")

    trusted_domains: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="e-mail domains of trusted organisations",
        examples=[["fabrikam.example"]],
    )

    @field_validator("trusted_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return sorted({validate_domain(d) for d in v})


class PrivacyPolicy(BaseModel):
    """What the organisation tells people about their data."""

    model_config = ConfigDict(extra="forbid")

    statement_url: AnyHttpUrl | None = Field(
        default=None,
        description="the privacy statement shown with every recording notice",
        examples=["https://contoso.example/privacy"],
    )


class RecordingPolicy(BaseModel):
    """Meeting recordings: who may download them and how long they are kept (Teams' meeting
    recording expiration and channel recording download settings)."""

    model_config = ConfigDict(extra="forbid")

    allow_download: bool = Field(
        default=True,
        description="recordings may be downloaded at all; off: viewing (streaming) only, "
        "for everyone",
    )
    channel_recordings_view_only: bool = Field(
        default=False,
        description="members of a channel may only view its meetings' recordings; the "
        "recording's owners and the team's owners keep full rights",
    )
    expiry_days: int | None = Field(
        default=120,
        ge=1,
        le=99_999,
        description="days until a new recording expires; null: never. Changes affect new "
        "recordings only",
    )
    recycle_days: int = Field(
        default=90,
        ge=1,
        le=365,
        description="days an expired recording stays restorable before it is purged",
    )


BlockedKind = Literal["executable", "script", "archive"]


def _executables() -> list[BlockedKind]:
    return ["executable"]


class FilePolicy(BaseModel):
    """Files: sizes and quotas, what may be uploaded, and how files may be shared
    (SharePoint's sharing settings, Defender's file policies)."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(
        default=2 * 1024**3, ge=1024, le=250 * 1024**3, description="largest file one may upload"
    )
    tenant_quota_bytes: int | None = Field(
        default=None, ge=0, description="storage for all files of the organisation; null: no limit"
    )
    user_quota_bytes: int | None = Field(
        default=None, ge=0, description="storage for the files one person uploaded; null: no limit"
    )
    blocked_kinds: list[BlockedKind] = Field(
        default_factory=_executables,
        description="kinds of content refused at upload, told by the content, not the name",
    )
    macro_policy: Literal["block", "warn", "allow"] = Field(
        default="block",
        description="Office files with suspicious auto-executing macros: quarantined (block), "
        "marked (warn), or let through (allow)",
    )
    sharing_links: Literal["off", "people", "anyone"] = Field(
        default="people",
        description="sharing links: none; for signed-in people of the organisation; also "
        "for guests and people outside it",
    )
    link_max_days: int | None = Field(
        default=30, ge=1, le=3650, description="longest a sharing link may live; null: no limit"
    )
    link_password_required: bool = False
    rescan_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="when the scanners' signatures change, files uploaded this many days back "
        "are scanned again",
    )


POLICY_KINDS: dict[str, type[BaseModel]] = {
    "files": FilePolicy,
    "privacy": PrivacyPolicy,
    "recordings": RecordingPolicy,
    "mfa": MfaPolicy,
    "meetings": MeetingPolicy,
    "federation": FederationPolicy,
}


class PolicyVersion(BaseModel):
    kind: str
    version: int
    body: dict[str, Any]
    created_at: datetime | None
    created_by: str | None
