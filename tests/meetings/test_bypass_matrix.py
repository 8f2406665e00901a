"""The lobby bypass matrix of the issue, every cell, through the HTTP API.

Each cell is a fresh meeting organized by olivia with ``lobby_bypass`` set to the column;
olivia is in already (the meeting has started), then the row's person joins and must be
straight in (B) or in the lobby (L). Co-organizer: sam; people of fabrikam (frank) are
federated when contoso trusts fabrikam.example, else they count as anonymous.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.meetings.conftest import Hall

SCOPES = (
    "everyone",
    "organizationAndFederated",
    "organization",
    "organizationExcludingGuests",
    "invited",
    "organizer",
)
# row: (who joins, invite them?, trust fabrikam?, cells in the order of SCOPES)
MATRIX: dict[str, tuple[str | None, bool, bool, str]] = {
    "organizer": ("olivia", False, False, "BBBBBB"),
    "co-organizer": ("sam", True, False, "BBBBBB"),
    "internal, invited": ("mia", True, False, "BBBBBL"),
    "internal, not invited": ("hank", False, False, "BBBBLL"),
    "guest, invited": ("gus", True, False, "BBBLBL"),
    "guest, not invited": ("gus", False, False, "BBBLLL"),
    "federated, invited": ("frank", True, True, "BBLLBL"),
    "federated, not invited": ("frank", False, True, "BBLLLL"),
    "non-trusted org, signed in, invited": ("frank", True, False, "BLLLBL"),
    "anonymous": (None, False, False, "BLLLLL"),
}


async def _cell(hall: Hall, row: str, scope: str) -> str:
    who, invited, _, _ = MATRIX[row]
    invite = ["sam"]
    emails: list[str] = []
    if invited and who in ("mia", "gus"):
        invite.append(who)
    if invited and who == "frank":
        emails.append("frank@fabrikam.example")
    meeting = await hall.schedule(
        invite=tuple(invite),
        emails=tuple(emails),
        options={"lobby_bypass": scope, "coorganizers": [str(hall.world.id("sam"))]},
    )
    if who != "olivia":
        first = await hall.join("olivia", meeting)
        assert first["me"]["state"] == "in" and first["meeting"]["started"]
    joined: dict[str, Any] = await hall.join(who, meeting, name="Visitor" if who is None else None)
    return "B" if joined["me"]["state"] == "in" else "L"


@pytest.mark.parametrize("row", list(MATRIX))
async def test_bypass_matrix_row(hall: Hall, row: str) -> None:
    _, _, trust, expected = MATRIX[row]
    await hall.policy("federation", {"trusted_domains": ["fabrikam.example"] if trust else []})
    got = "".join([await _cell(hall, row, scope) for scope in SCOPES])
    assert got == expected, f"{row}: expected {expected} for {SCOPES}, got {got}"


async def test_people_of_other_organisations_get_their_type(hall: Hall) -> None:
    meeting = await hall.schedule(options={"lobby_bypass": "everyone"})
    await hall.join("olivia", meeting)
    await hall.policy("federation", {"trusted_domains": ["fabrikam.example"]})
    frank = await hall.join("frank", meeting)
    assert frank["me"]["type"] == "federated" and frank["token"].startswith("olp_")
    await hall.policy("federation", {"trusted_domains": []})
    eve = await hall.join("eve", meeting)
    assert eve["me"]["type"] == "external"
    anon = await hall.join(None, meeting, name="  Ann   Onymous ")
    assert anon["me"]["type"] == "anonymous" and anon["me"]["display_name"] == "Ann Onymous"
    # no media server here: the meeting goes on without audio and video, and says so
    assert anon["meeting"]["media_available"] is False
    mia = await hall.join("mia", meeting)
    assert mia["me"]["type"] == "internal" and mia["token"] is None
    gus = await hall.join("gus", meeting)
    assert gus["me"]["type"] == "guest" and gus["token"] is None
