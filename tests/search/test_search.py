"""Searching on real databases: the query language end to end and what a searcher may see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from overleg.kernel.errors import ValidationFailed
from overleg.search import engine
from overleg.search.schemas import SearchHit
from tests.search.conftest import T0, Kit, Place, channel, chat


@pytest.fixture
def sales() -> Place:
    return channel("Sales", "General")


async def test_words_are_anded_and_hits_come_newest_first(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    a = await contoso.post(sales, "The quarterly budget review is on Tuesday")
    b = await contoso.post(sales, "Budget forecast, first draft")
    c = await contoso.post(sales, "Review the forecast please")
    assert await contoso.ids("budget", r) == [b, a]
    assert await contoso.ids("budget review", r) == [a]
    assert await contoso.ids("forecast budget", r) == [b]
    assert await contoso.ids("review", r) == [c, a]
    assert await contoso.ids("budget nothing", r) == []
    assert await contoso.ids("nothing", r) == []
    assert await contoso.ids("budget", r, limit=1) == [b]


async def test_hits_carry_their_place_and_time(contoso: Kit, sales: Place) -> None:
    at = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    mid = await contoso.post(sales, "precise", at=at)
    assert await contoso.hits("precise", [sales.readable()]) == [
        SearchHit(mid, "channel", sales.id, at)
    ]


async def test_matching_ignores_case_width_and_diacritics(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    zoe = await contoso.post(sales, "Ask Zoë about the Straße project")
    full = await contoso.post(sales, "\uff2d\uff49\uff41 will know")  # full-width Mia
    assert await contoso.ids("zoe", r) == [zoe]
    assert await contoso.ids("ZOË", r) == [zoe]
    assert await contoso.ids("strasse", r) == [zoe]
    assert await contoso.ids("mia", r) == [full]


async def test_or(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    a = await contoso.post(sales, "budget for q3")
    b = await contoso.post(sales, "forecast for q3")
    x = await contoso.post(sales, "forecast for q4")
    c = await contoso.post(sales, "budget and forecast, q3")
    assert await contoso.ids("budget OR forecast", r) == [c, x, b, a]
    assert await contoso.ids("q3 budget OR forecast", r) == [c, b, a]
    assert await contoso.ids("q3 budget OR nothing", r) == [c, a]
    assert await contoso.ids("q4 OR nothing", r) == [x]
    assert await contoso.ids("nothing OR nada", r) == []


async def test_not_and_minus(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    a = await contoso.post(sales, "budget draft")
    b = await contoso.post(sales, "budget final")
    c = await contoso.post(sales, "budget final old version")
    assert await contoso.ids("budget -draft", r) == [c, b]
    assert await contoso.ids("budget NOT draft -old", r) == [b]
    assert await contoso.ids("budget -final", r) == [a]
    assert await contoso.ids("budget -nothing", r) == [c, b, a]


async def test_phrases_need_adjacent_words_in_order(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    a = await contoso.post(sales, "the quarterly review is due")
    b = await contoso.post(sales, "review the quarterly numbers")
    c = await contoso.post(sales, "quarterly results; review later")
    assert set(await contoso.ids("quarterly review", r)) == {a, b, c}
    assert await contoso.ids('"quarterly review"', r) == [a]
    assert await contoso.ids('"review the quarterly"', r) == [b]
    assert await contoso.ids('"review quarterly"', r) == []
    # punctuation is no word: a phrase runs across it
    assert await contoso.ids('"quarterly results review"', r) == [c]
    assert await contoso.ids('"results review"', r) == [c]
    assert await contoso.ids('quarterly -"quarterly review"', r) == [c, b]
    assert await contoso.ids('"quarterly review" OR "review later"', r) == [c, a]
    # A word that splits is a phrase of its parts.
    d = await contoso.post(sales, "send the e-mail now, not the mail e")
    assert await contoso.ids("e-mail", r) == [d]
    assert await contoso.ids('"mail e"', r) == [d]


async def test_phrases_across_email_addresses(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    mid = await contoso.post(sales, "Please write to mia.de.vries@contoso.example today")
    assert await contoso.ids("mia.de.vries@contoso.example", r) == [mid]
    assert await contoso.ids("vries", r) == [mid]
    assert await contoso.ids('"write to mia.de.vries@contoso.example today"', r) == [mid]
    assert await contoso.ids('"contoso example today"', r) == [mid]
    assert await contoso.ids("sam@contoso.example", r) == []


async def test_from_resolves_people(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    m1 = await contoso.post(sales, "status update", author="mia")
    s1 = await contoso.post(sales, "status update", author="sam")
    h1 = await contoso.post(sales, "lunch?", author="hank")
    assert await contoso.ids("status from:mia", r) == [m1]
    assert await contoso.ids("from:MIA", r) == [m1]
    assert await contoso.ids("from:mia from:sam", r) == [s1, m1]
    assert await contoso.ids("from:hank", r) == [h1]
    assert await contoso.ids("from:hank status", r) == []
    assert await contoso.ids("from:nobody status", r) == []
    assert await contoso.ids("from:nobody from:sam", r) == [s1]


async def test_in_matches_readable_names_case_and_accent_insensitively(contoso: Kit) -> None:
    general = channel("Sales team", "General")
    deals = channel("Sales team", "Deals")
    cafe = chat("Café crew")
    hr = channel("HR", "General")
    r = [general.readable(), deals.readable(), cafe.readable(), hr.readable()]
    g = await contoso.post(general, "kickoff notes")
    d = await contoso.post(deals, "kickoff deal")
    c = await contoso.post(cafe, "kickoff coffee")
    h = await contoso.post(hr, "kickoff hr")
    assert await contoso.ids('kickoff in:"sales TEAM"', r) == [d, g]
    assert await contoso.ids("kickoff in:deals", r) == [d]
    assert await contoso.ids("in:general", r) == [h, g]
    assert await contoso.ids("kickoff in:cafe", r) == []  # "Café crew", not "Café"
    assert await contoso.ids('kickoff in:"cafe crew" in:hr', r) == [h, c]
    assert await contoso.ids("kickoff in:nowhere", r) == []
    # in: never widens what is readable
    assert await contoso.ids("kickoff in:hr", [general.readable()]) == []


async def test_before_and_after_are_whole_utc_days(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    day = datetime(2025, 3, 10, tzinfo=UTC)
    early = await contoso.post(sales, "report", at=day - timedelta(microseconds=1))
    start = await contoso.post(sales, "report", at=day)
    late = await contoso.post(sales, "report", at=day + timedelta(days=1))
    assert await contoso.ids("report before:2025-03-10", r) == [early]
    assert await contoso.ids("report before:2025-03-11", r) == [start, early]
    assert await contoso.ids("report after:2025-03-09", r) == [late, start]
    assert await contoso.ids("report after:2025-03-10", r) == [late]
    assert await contoso.ids("after:2025-03-09 before:2025-03-11", r) == [start]
    assert await contoso.ids("report after:2025-03-10 before:2025-03-10", r) == []
    assert await contoso.ids("report after:9999-12-31", r) == []


async def test_has_attachment(contoso: Kit, sales: Place) -> None:
    r = [sales.readable()]
    with_file = await contoso.post(sales, "the contract", attachment=True)
    await contoso.post(sales, "the contract is coming")
    assert await contoso.ids("contract has:attachment", r) == [with_file]
    assert await contoso.ids("has:attachment", r) == [with_file]


async def test_filters_alone_list_messages_and_not_alone_is_refused(
    contoso: Kit, sales: Place
) -> None:
    r = [sales.readable()]
    a = await contoso.post(sales, "lunch at noon", author="mia")
    b = await contoso.post(sales, "budget", author="mia")
    await contoso.post(sales, "budget", author="sam")
    assert await contoso.ids("from:mia", r) == [b, a]
    assert await contoso.ids("from:mia -lunch", r) == [b]
    assert await contoso.ids("in:sales -budget", r) == [a]
    for query in ("-lunch", "NOT lunch", "", "   ", "!!!", '""'):
        with pytest.raises(ValidationFailed, match="nothing to search for"):
            await contoso.ids(query, r)
    with pytest.raises(ValidationFailed, match="a quote is not closed"):
        await contoso.ids('"lunch', r)
    with pytest.raises(ValidationFailed, match="limit"):
        await contoso.ids("lunch", r, limit=0)


async def test_only_readable_containers_give_hits(contoso: Kit) -> None:
    mine, theirs, private = channel("Sales"), channel("HR"), chat("Hank", "Sam")
    m = await contoso.post(mine, "salary review")
    await contoso.post(theirs, "salary review")
    await contoso.post(private, "salary review")
    assert await contoso.ids("salary", [mine.readable()]) == [m]
    assert await contoso.ids("salary", []) == []
    # the same id under another container type is not the container the caller allowed
    fake = Place("chat", theirs.id, ("HR",))
    assert await contoso.ids("salary", [mine.readable(), fake.readable()]) == [m]


async def test_since_cuts_history_before_joining(contoso: Kit) -> None:
    private = channel("Project X")
    before = await contoso.post(private, "design notes v1", at=T0)
    after = await contoso.post(private, "design notes v2", at=T0 + timedelta(days=2))
    joined = T0 + timedelta(days=1)
    assert await contoso.ids("design", [private.readable(since=joined)]) == [after]
    assert await contoso.ids('"design notes"', [private.readable(since=joined)]) == [after]
    assert await contoso.ids('in:"project x"', [private.readable(since=joined)]) == [after]
    assert await contoso.ids("design", [private.readable()]) == [after, before]
    # listed twice, the wider view wins
    both = [private.readable(since=joined), private.readable()]
    assert await contoso.ids("design", both) == [after, before]


async def test_another_tenants_index_is_never_searched(contoso: Kit, fabrikam: Kit) -> None:
    board = channel("Board")
    mine = await contoso.post(board, "acquisition target list")
    await fabrikam.post(board, "acquisition target list")  # same container id, same text
    theirs_only = channel("Secret")
    await fabrikam.post(theirs_only, "acquisition shortlist")
    everything = [board.readable(), theirs_only.readable()]
    assert await contoso.ids("acquisition", everything) == [mine]
    assert await contoso.ids('"target list"', everything) == [mine]
    assert await contoso.ids("shortlist", everything) == []
    # a tenant that never indexed anything finds nothing (and gets no key made for it)
    assert await Kit(contoso.rt, uuid.uuid4()).ids("acquisition", everything) == []


# --- the plans and the Python checks, on more data ---------------------------------------------


async def test_pages_grow_until_enough_phrase_hits_are_found(contoso: Kit, sales: Place) -> None:
    """Many candidates have both words but not as the phrase; the oldest few do."""
    r = [sales.readable()]
    wanted = [await contoso.post(sales, "red apple pie") for _ in range(3)]
    for i in range(engine.FIRST_PAGE_MIN * 3):
        await contoso.post(sales, f"apple {i} red")
    assert await contoso.ids('"red apple"', r, limit=5) == wanted[::-1]
    assert len(await contoso.ids("red apple", r, limit=150)) == 150


async def test_every_plan_gives_the_same_answer(
    contoso: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Term-driven, OR-driven and document-driven plans, and readability checked in SQL or
    only in Python, all return the same hits."""
    places = [channel(f"c{i}") for i in range(6)]
    texts = ["alpha beta", "beta alpha", "gamma", "alpha", "beta gamma alpha", "delta"]
    since = T0 + timedelta(minutes=10)
    posted: list[tuple[uuid.UUID, Place, str, datetime]] = []
    for i in range(36):
        place, text = places[i % 6], texts[(i // 6 + i) % 6]
        at = T0 + timedelta(minutes=i)
        posted.append((await contoso.post(place, text, at=at), place, text, at))

    def matches(query: str, text: str) -> bool:
        words = text.split()
        return {
            "alpha": "alpha" in words,
            "alpha beta": "alpha" in words and "beta" in words,
            "beta OR gamma": "beta" in words or "gamma" in words,
            '"alpha beta"': "alpha beta" in text,
            "alpha -gamma": "alpha" in words and "gamma" not in words,
        }[query]

    queries = ["alpha", "alpha beta", "beta OR gamma", '"alpha beta"', "alpha -gamma"]
    kinds: set[str] = set()
    choose = engine._choose

    def spy(*args: object) -> engine._Shape:
        shape = choose(*args)  # type: ignore[arg-type]
        kinds.add(shape.kind)
        return shape

    monkeypatch.setattr(engine, "_choose", spy)

    async def check(readable_places: list[Place]) -> None:
        readable = [p.readable(since if p is places[0] else None) for p in readable_places]
        for q in queries:
            expected = [
                mid
                for mid, place, text, at in reversed(posted)
                if place in readable_places
                and (place is not places[0] or at >= since)
                and matches(q, text)
            ]
            assert await contoso.ids(q, readable) == expected, q

    async def both() -> None:
        await check(places[:4])
        await check(places)

    await both()
    monkeypatch.setattr(engine, "COST_CAP", 2)  # everything looks frequent
    await both()
    monkeypatch.setattr(engine, "SQL_SINCE_LIMIT", 0)  # since checked in Python only
    await both()
    monkeypatch.setattr(engine, "SQL_CONTAINER_LIMIT", 1)  # readability in Python only
    await both()
    monkeypatch.setattr(engine, "FIRST_PAGE_MIN", 1)  # tiny pages
    await both()
    assert kinds == {"term", "any", "documents"}
