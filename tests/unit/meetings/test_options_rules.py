"""``options.apply_update`` and ``options.defaults``: the pure option checks."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.kernel.errors import ValidationFailed
from overleg.meetings.options import apply_update, defaults
from overleg.meetings.rules import LobbyBypass, WhoCanPresent
from overleg.meetings.schemas import MAX_COORGANIZERS, MeetingOptions, MeetingOptionsUpdate
from overleg.policy.schemas import MeetingPolicySettings

ORGANIZER = uuid.UUID(int=1)
MEMBERS = [uuid.UUID(int=100 + i) for i in range(12)]
GUEST = uuid.UUID(int=200)
STRANGER = uuid.UUID(int=300)
INVITED = {**{m: "member" for m in MEMBERS}, GUEST: "guest"}
BASE = defaults(MeetingPolicySettings())


def apply(update: MeetingOptionsUpdate, *, chat: bool = True) -> MeetingOptions:
    return apply_update(
        BASE, update, organizer_id=ORGANIZER, invited_accounts=INVITED, allow_meeting_chat=chat
    )


def test_defaults_follow_the_policy() -> None:
    policy = MeetingPolicySettings(
        lobby_bypass=LobbyBypass.EVERYONE,
        dial_in_bypass=True,
        who_can_present=WhoCanPresent.ORGANIZER,
        allow_meeting_chat=False,
    )
    o = defaults(policy)
    assert (o.lobby_bypass, o.dial_in_bypass, o.who_can_present, o.allow_chat) == (
        LobbyBypass.EVERYONE,
        True,
        WhoCanPresent.ORGANIZER,
        False,
    )
    assert o.coorganizers == [] and o.presenters == [] and o.lock is False
    assert BASE.allow_chat is True and BASE.lobby_bypass is LobbyBypass.ORGANIZATION


def test_fields_left_out_stay() -> None:
    o = apply(MeetingOptionsUpdate(lock=True))
    assert o.lock is True
    assert o.model_dump(exclude={"lock"}) == BASE.model_dump(exclude={"lock"})


@pytest.mark.parametrize(
    ("coorganizers", "reason"),
    [
        ([GUEST], "guest"),
        ([ORGANIZER], "the organizer"),
        ([STRANGER], "not an invitee"),
        ([MEMBERS[0], STRANGER], "not an invitee"),
    ],
)
def test_co_organizers_are_invited_members(coorganizers: list[uuid.UUID], reason: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        apply(MeetingOptionsUpdate(coorganizers=coorganizers))
    assert e.value.extra == {"field": "coorganizers"} and reason in e.value.detail


def test_at_most_ten_co_organizers_and_repeats_collapse() -> None:
    ten = MEMBERS[:MAX_COORGANIZERS]
    assert apply(MeetingOptionsUpdate(coorganizers=ten)).coorganizers == ten
    twice = [MEMBERS[0], MEMBERS[1], MEMBERS[0]]
    assert apply(MeetingOptionsUpdate(coorganizers=twice)).coorganizers == MEMBERS[:2]
    # the schema refuses eleven before the rule sees them; the rule holds on its own too
    eleven = MeetingOptionsUpdate.model_construct(coorganizers=MEMBERS[:11])
    with pytest.raises(ValidationFailed, match="at most 10"):
        apply(eleven)


def test_presenters_are_invitees_with_an_account() -> None:
    o = apply(
        MeetingOptionsUpdate(
            who_can_present=WhoCanPresent.SPECIFIC_PEOPLE, presenters=[GUEST, MEMBERS[3]]
        )
    )
    assert o.presenters == [GUEST, MEMBERS[3]]
    with pytest.raises(ValidationFailed) as e:
        apply(MeetingOptionsUpdate(presenters=[STRANGER]))
    assert e.value.extra == {"field": "presenters"}


def test_chat_cannot_be_turned_on_against_the_policy() -> None:
    with pytest.raises(ValidationFailed, match="allow_meeting_chat") as e:
        apply(MeetingOptionsUpdate(allow_chat=True), chat=False)
    assert e.value.extra == {"field": "allow_chat"}
    assert apply(MeetingOptionsUpdate(allow_chat=False), chat=False).allow_chat is False
    assert apply(MeetingOptionsUpdate(lock=True), chat=False).lock is True


@given(st.lists(st.sampled_from([*MEMBERS[:5], GUEST, STRANGER, ORGANIZER]), max_size=10))
def test_accepted_co_organizers_are_always_invited_members(picked: list[uuid.UUID]) -> None:
    try:
        o = apply(MeetingOptionsUpdate(coorganizers=picked))
    except ValidationFailed:
        assert any(p not in MEMBERS for p in picked)
        return
    assert o.coorganizers == list(dict.fromkeys(picked))
    assert all(INVITED[c] == "member" for c in o.coorganizers)
