"""The composer's preview: Markdown rendered and sanitised exactly as a sent message is,
nothing stored."""

from __future__ import annotations

import httpx

from tests.fixtures.world import World


async def test_preview_renders_markdown_and_strips_scripts(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = await world.session_headers("mia")
    r = await client.post(
        "/api/v1/messages/preview",
        json={"text": "**plan** for _Monday_\n\n<script>alert(1)</script>"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    html = r.json()["html"]
    assert "<strong>plan</strong>" in html and "<em>Monday</em>" in html
    assert "<script" not in html


async def test_preview_needs_a_session_and_a_text(world: World, client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/messages/preview", json={"text": "hi"})
    assert r.status_code == 401
    headers = await world.session_headers("mia")
    r = await client.post("/api/v1/messages/preview", json={"text": "   "}, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
