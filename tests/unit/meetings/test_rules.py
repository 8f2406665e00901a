"""The meeting rules as pure functions: entry (dial-in, the "not started" rules),
initial roles, and phone masking. The full matrices are also tested over HTTP
(tests/meetings); these pin the corners cheaply."""

from __future__ import annotations

import pytest

from overleg.meetings.rules import (
    Capability,
    Entry,
    Joiner,
    LobbyBypass,
    MeetingRole,
    ParticipantType,
    Powers,
    Situation,
    WhoCanAdmit,
    WhoCanPresent,
    bypasses,
    can,
    entry,
    initial_role,
    mask_phone,
    starts_meeting,
)

T = ParticipantType


def _s(**kw: object) -> Situation:
    base: dict[str, object] = {
        "lobby_bypass": LobbyBypass.EVERYONE,
        "dial_in_bypass": False,
        "anonymous_can_start": False,
        "started": True,
    }
    base.update(kw)
    return Situation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dial_in_bypass", "started", "can_start", "expected"),
    [
        (False, False, False, Entry.LOBBY),
        (False, True, False, Entry.LOBBY),
        (False, True, True, Entry.LOBBY),
        (True, False, False, Entry.LOBBY_UNTIL_START),
        (True, False, True, Entry.IN),
        (True, True, False, Entry.IN),
    ],
)
def test_dial_in_follows_dial_in_bypass_only(
    dial_in_bypass: bool, started: bool, can_start: bool, expected: Entry
) -> None:
    for scope in LobbyBypass:  # the lobby setting does not matter for callers
        got = entry(
            Joiner(T.DIAL_IN),
            _s(
                lobby_bypass=scope,
                dial_in_bypass=dial_in_bypass,
                started=started,
                anonymous_can_start=can_start,
            ),
        )
        assert got is expected, scope


def test_unverified_people_who_would_bypass_wait_for_the_start() -> None:
    not_started = _s(started=False)
    assert entry(Joiner(T.ANONYMOUS), not_started) is Entry.LOBBY_UNTIL_START
    assert entry(Joiner(T.EXTERNAL, invited=True), not_started) is Entry.LOBBY_UNTIL_START
    for t in (T.INTERNAL, T.GUEST, T.FEDERATED):
        assert entry(Joiner(t), not_started) is Entry.IN
        assert starts_meeting(Joiner(t), Entry.IN)
    assert not starts_meeting(Joiner(T.ANONYMOUS), Entry.IN)
    assert entry(Joiner(T.ANONYMOUS), _s(started=False, anonymous_can_start=True)) is Entry.IN


def test_removed_people_go_through_the_lobby_again() -> None:
    again = _s(removed_before=True)
    assert entry(Joiner(T.INTERNAL, invited=True), again) is Entry.LOBBY
    assert entry(Joiner(T.INTERNAL, coorganizer=True), again) is Entry.LOBBY
    assert entry(Joiner(T.INTERNAL, organizer=True), again) is Entry.IN


def test_organizer_scope_lets_only_organizers_in() -> None:
    assert bypasses(Joiner(T.INTERNAL, organizer=True), LobbyBypass.ORGANIZER)
    assert bypasses(Joiner(T.INTERNAL, coorganizer=True), LobbyBypass.ORGANIZER)
    assert not bypasses(Joiner(T.INTERNAL, invited=True), LobbyBypass.ORGANIZER)


@pytest.mark.parametrize(
    ("who_can_present", "presenters"),
    [
        (
            WhoCanPresent.EVERYONE,
            {T.INTERNAL, T.GUEST, T.FEDERATED, T.EXTERNAL, T.ANONYMOUS, T.DIAL_IN},
        ),
        (WhoCanPresent.ORGANIZATION, {T.INTERNAL, T.GUEST}),
        (WhoCanPresent.ORGANIZATION_AND_FEDERATED, {T.INTERNAL, T.GUEST, T.FEDERATED}),
        (WhoCanPresent.ORGANIZER, set()),
        (WhoCanPresent.SPECIFIC_PEOPLE, set()),
    ],
)
def test_initial_role(who_can_present: WhoCanPresent, presenters: set[ParticipantType]) -> None:
    for t in T:
        want = MeetingRole.PRESENTER if t in presenters else MeetingRole.ATTENDEE
        assert initial_role(Joiner(t), who_can_present) is want, t
    assert (
        initial_role(Joiner(T.INTERNAL, organizer=True), who_can_present) is MeetingRole.ORGANIZER
    )
    assert (
        initial_role(Joiner(T.INTERNAL, coorganizer=True), who_can_present)
        is MeetingRole.COORGANIZER
    )
    listed = initial_role(Joiner(T.INTERNAL), WhoCanPresent.SPECIFIC_PEOPLE, listed_presenter=True)
    assert listed is MeetingRole.PRESENTER


def test_who_can_admit_and_options_before_start() -> None:
    only_organizers = Powers(who_can_admit=WhoCanAdmit.ORGANIZERS_AND_COORGANIZERS)
    assert not can(MeetingRole.PRESENTER, Capability.ADMIT, only_organizers)
    assert can(MeetingRole.COORGANIZER, Capability.ADMIT, only_organizers)
    assert not can(MeetingRole.COORGANIZER, Capability.CHANGE_OPTIONS, Powers(started=False))
    assert can(MeetingRole.COORGANIZER, Capability.CHANGE_OPTIONS, Powers(started=True))
    assert can(MeetingRole.ORGANIZER, Capability.CHANGE_OPTIONS, Powers(started=False))
    for cap in Capability:
        assert not can(MeetingRole.ATTENDEE, cap, Powers(started=True))


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("+31 20 123 4578") == "+3120•••••78"
    assert mask_phone("0201234578") == "0201••••78"
    assert mask_phone("12345") == "•••"
    assert "1234" not in mask_phone("+31 6 1234 5678")[5:]
