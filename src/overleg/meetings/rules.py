"""The meeting rules of Teams, as pure functions: who bypasses the lobby, who starts a
meeting, which role one gets, and what each role may do. No I/O; the services load the
facts, ask here, and enforce the answer.

Names of values follow Microsoft Graph (``lobbyBypassScope``) so that admins recognise
them; the tables are in docs/meeting-options.md and docs/admin-meeting-policies.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ParticipantType(StrEnum):
    """Who someone is, as far as the lobby is concerned."""

    INTERNAL = "internal"  # a member account of the meeting's organisation
    GUEST = "guest"  # a guest (B2B) account of the meeting's organisation
    FEDERATED = "federated"  # signed in at an organisation on the trusted-domain list
    EXTERNAL = "external"  # signed in at an organisation that is not trusted
    ANONYMOUS = "anonymous"  # not signed in, gave a display name
    DIAL_IN = "dial_in"  # a phone caller, through a dial-in gateway


#: signed in with an account Overleg (or a trusted organisation) vouches for: only they
#: start a meeting. People of untrusted organisations count as anonymous (as in Teams).
VERIFIED = frozenset({ParticipantType.INTERNAL, ParticipantType.GUEST, ParticipantType.FEDERATED})
#: treated as anonymous by ``anonymous_join``, ``anonymous_can_start`` and the capability
#: limits of anonymous presenters
UNVERIFIED = frozenset(
    {ParticipantType.EXTERNAL, ParticipantType.ANONYMOUS, ParticipantType.DIAL_IN}
)


class LobbyBypass(StrEnum):
    """Who may bypass the lobby (Graph's ``lobbyBypassScope``)."""

    ORGANIZER = "organizer"
    ORGANIZATION_EXCLUDING_GUESTS = "organizationExcludingGuests"
    ORGANIZATION = "organization"
    ORGANIZATION_AND_FEDERATED = "organizationAndFederated"
    INVITED = "invited"
    EVERYONE = "everyone"


class WhoCanPresent(StrEnum):
    EVERYONE = "everyone"
    ORGANIZATION = "organization"  # people of the organisation and its guests
    ORGANIZATION_AND_FEDERATED = "organizationAndFederated"
    ORGANIZER = "organizer"  # organizer and co-organizers only
    SPECIFIC_PEOPLE = "specific_people"


class WhoCanAdmit(StrEnum):
    ORGANIZERS_AND_PRESENTERS = "organizers_and_presenters"
    ORGANIZERS_AND_COORGANIZERS = "organizers_and_coorganizers"


class WhoCanRecord(StrEnum):
    ORGANIZERS_AND_COORGANIZERS = "organizers_and_coorganizers"
    ORGANIZERS_AND_PRESENTERS = "organizers_and_presenters"


#: who may ever start or stop a recording: accounts of the organisation (never anonymous
#: people, callers, guests or people of other organisations, whatever their role)
RECORDERS = frozenset({ParticipantType.INTERNAL})


class MeetingRole(StrEnum):
    ORGANIZER = "organizer"
    COORGANIZER = "coorganizer"
    PRESENTER = "presenter"
    ATTENDEE = "attendee"


class Capability(StrEnum):
    """What a call into a meeting may need, beyond being in it."""

    SHARE_CONTENT = "share_content"
    MUTE_OTHERS = "mute_others"
    MANAGE_ATTENDEE_MEDIA = "manage_attendee_media"  # disable/allow attendee mic, camera
    LOWER_HANDS = "lower_hands"
    REMOVE = "remove"
    ADMIT = "admit"  # see the lobby, admit, deny
    CHANGE_ROLES = "change_roles"
    RECORD = "record"
    CHANGE_OPTIONS = "change_options"
    END_MEETING = "end_meeting"


@dataclass(frozen=True)
class Joiner:
    """The facts about one person knocking, as the lobby rules need them."""

    type: ParticipantType
    invited: bool = False
    organizer: bool = False
    coorganizer: bool = False


@dataclass(frozen=True)
class Situation:
    """The facts about the meeting at the moment someone knocks."""

    lobby_bypass: LobbyBypass
    dial_in_bypass: bool
    anonymous_can_start: bool
    started: bool
    #: this person was removed from the meeting before: back through the lobby
    removed_before: bool = False


class Entry(StrEnum):
    IN = "in"  # straight into the meeting
    LOBBY = "lobby"  # waits until someone who may admit lets them in (or denies them)
    #: would bypass, but the meeting has not started: waits, and is let in automatically
    #: the moment it starts
    LOBBY_UNTIL_START = "lobby_until_start"


def bypasses(j: Joiner, scope: LobbyBypass) -> bool:
    """The bypass matrix (dial-in callers are not in it: see ``entry``)."""
    if j.organizer or j.coorganizer:
        return True
    t, s = j.type, scope
    if s is LobbyBypass.EVERYONE:
        return True
    if s is LobbyBypass.INVITED:
        return j.invited and t is not ParticipantType.ANONYMOUS
    if s is LobbyBypass.ORGANIZATION_AND_FEDERATED:
        return t in VERIFIED
    if s is LobbyBypass.ORGANIZATION:
        return t in (ParticipantType.INTERNAL, ParticipantType.GUEST)
    if s is LobbyBypass.ORGANIZATION_EXCLUDING_GUESTS:
        return t is ParticipantType.INTERNAL
    return False  # ORGANIZER: only organizer and co-organizers


def entry(j: Joiner, s: Situation) -> Entry:
    """Where someone who may join at all goes: in, the lobby, or the lobby until start.

    - Someone removed before goes through the lobby again (organizers are never removed).
    - Dial-in callers follow ``dial_in_bypass`` only.
    - Unverified people (anonymous, untrusted organisations, dial-in) who would bypass wait
      until the meeting has started, unless ``anonymous_can_start``.
    """
    if s.removed_before and not j.organizer:
        return Entry.LOBBY
    dial_in = j.type is ParticipantType.DIAL_IN
    would = s.dial_in_bypass if dial_in else bypasses(j, s.lobby_bypass)
    if not would:
        return Entry.LOBBY
    if j.type in UNVERIFIED and not s.started and not s.anonymous_can_start:
        return Entry.LOBBY_UNTIL_START
    return Entry.IN


def starts_meeting(j: Joiner, e: Entry) -> bool:
    """A meeting has started once a verified person who bypassed the lobby is in it."""
    return e is Entry.IN and j.type in VERIFIED


def initial_role(
    j: Joiner, who_can_present: WhoCanPresent, *, listed_presenter: bool = False
) -> MeetingRole:
    """The role someone gets on joining, from ``who_can_present``; ``listed_presenter``:
    named in the options' presenters (for ``specific_people``)."""
    if j.organizer:
        return MeetingRole.ORGANIZER
    if j.coorganizer:
        return MeetingRole.COORGANIZER
    w, t = who_can_present, j.type
    presenter = (
        w is WhoCanPresent.EVERYONE
        or (
            w is WhoCanPresent.ORGANIZATION
            and t in (ParticipantType.INTERNAL, ParticipantType.GUEST)
        )
        or (w is WhoCanPresent.ORGANIZATION_AND_FEDERATED and t in VERIFIED)
        or (w is WhoCanPresent.SPECIFIC_PEOPLE and listed_presenter)
    )
    return MeetingRole.PRESENTER if presenter else MeetingRole.ATTENDEE


#: capabilities a presenter loses under the tenant's ``limit_presenter_permissions``
LIMITED_FOR_PRESENTERS = frozenset(
    {
        Capability.MANAGE_ATTENDEE_MEDIA,
        Capability.CHANGE_ROLES,
        Capability.LOWER_HANDS,
        Capability.REMOVE,
    }
)
#: capabilities an anonymous (unverified) person never has, whatever their role
NEVER_FOR_ANONYMOUS = frozenset({Capability.MUTE_OTHERS, Capability.REMOVE, Capability.LOWER_HANDS})
_PRESENTER = frozenset(
    {
        Capability.SHARE_CONTENT,
        Capability.MUTE_OTHERS,
        Capability.MANAGE_ATTENDEE_MEDIA,
        Capability.LOWER_HANDS,
        Capability.REMOVE,
        Capability.ADMIT,
        Capability.CHANGE_ROLES,
        Capability.RECORD,
    }
)


@dataclass(frozen=True)
class Powers:
    """The facts that decide what a role may do in one meeting."""

    who_can_admit: WhoCanAdmit = WhoCanAdmit.ORGANIZERS_AND_PRESENTERS
    limit_presenter_permissions: bool = False
    started: bool = False
    who_can_record: WhoCanRecord = WhoCanRecord.ORGANIZERS_AND_PRESENTERS


def can(
    role: MeetingRole,
    cap: Capability,
    p: Powers,
    *,
    unverified: bool = False,
    kind: ParticipantType | None = None,
) -> bool:
    """The capability table (docs/meeting-options.md), enforced for every call.

    Organizers may do everything; co-organizers too, except changing the options before
    the meeting starts; presenters share, mute, admit (unless only organizers admit),
    record, and, unless the tenant limits presenters, manage attendee media, lower hands,
    remove people and change roles; attendees none of it. Unverified people made
    presenter never mute, remove or lower hands. Recording: presenters only under
    ``who_can_record: organizers_and_presenters``, and only accounts of the organisation
    (``kind`` in ``RECORDERS``), never anyone else, whatever their role.
    """
    if unverified and cap in NEVER_FOR_ANONYMOUS:
        return False
    if cap is Capability.RECORD:
        if unverified or (kind is not None and kind not in RECORDERS):
            return False
        if role is MeetingRole.PRESENTER and (
            p.who_can_record is not WhoCanRecord.ORGANIZERS_AND_PRESENTERS
        ):
            return False
    if role is MeetingRole.ORGANIZER:
        return True
    if role is MeetingRole.COORGANIZER:
        return cap is not Capability.CHANGE_OPTIONS or p.started
    if role is MeetingRole.PRESENTER:
        if cap not in _PRESENTER:
            return False
        if cap is Capability.ADMIT:
            return p.who_can_admit is WhoCanAdmit.ORGANIZERS_AND_PRESENTERS
        return not (p.limit_presenter_permissions and cap in LIMITED_FOR_PRESENTERS)
    return False


def mask_phone(number: str) -> str:
    """A caller's number as participants see it: the first four and the last two digits,
    the rest hidden (``+3120•••••78``). Numbers too short to mask are hidden entirely."""
    digits = "".join(c for c in number if c.isdigit())
    if len(digits) < 6:
        return "•••"
    plus = "+" if number.strip().startswith("+") else ""
    return f"{plus}{digits[:4]}{'•' * (len(digits) - 6)}{digits[-2:]}"
