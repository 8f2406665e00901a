"""A real Janus started from Overleg's config: what it accepts, what it loads, where it listens.

Raw JSON over the WebSocket on purpose: this checks the server's configuration, not a client.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.fixtures.janus import SUBPROTOCOL, JanusInstance, info

Call = Callable[..., dict[str, Any]]


@contextmanager
def janus_api(url: str, protocol: Subprotocol = SUBPROTOCOL) -> Iterator[Call]:
    """``call(message, **fields)``: send one request, return the answer to its transaction."""
    with connect(url, subprotocols=[protocol], open_timeout=5) as ws:

        def call(message: dict[str, Any]) -> dict[str, Any]:
            transaction = uuid.uuid4().hex
            ws.send(json.dumps({**message, "transaction": transaction}))
            return _answer(ws, transaction)

        yield call


def _answer(ws: ClientConnection, transaction: str) -> dict[str, Any]:
    while True:
        answer: dict[str, Any] = json.loads(ws.recv(timeout=5))
        if answer.get("transaction") == transaction and answer.get("janus") != "ack":
            return answer


def test_a_request_without_the_api_secret_is_refused(janus: JanusInstance) -> None:
    with janus_api(janus.url) as call:
        for secret in ({}, {"apisecret": "wrong-" + janus.api_secret}):
            answer = call({"janus": "create", **secret})
            assert answer["janus"] == "error"
            assert answer["error"]["code"] == 403
        created = call({"janus": "create", "apisecret": janus.api_secret})
        assert created["janus"] == "success" and created["data"]["id"]
        # a session made with the secret is no key either: every request needs the secret
        sid = created["data"]["id"]
        attach = {"janus": "attach", "session_id": sid, "plugin": "janus.plugin.videoroom"}
        assert call(attach)["error"]["code"] == 403
        assert call({**attach, "apisecret": janus.api_secret})["janus"] == "success"


def test_info_shows_only_what_overleg_uses(janus: JanusInstance) -> None:
    answer = info(janus.url, janus.api_secret)
    assert answer["server-name"] == janus.name
    assert answer["api_secret"] is True
    assert set(answer["plugins"]) == {"janus.plugin.videoroom"}
    assert set(answer["transports"]) == {"janus.transport.websockets"}
    assert answer["events"] == {} and answer["loggers"] == {}
    assert answer["event_handlers"] is False
    # ICE on the host's address: Janus never offers loopback candidates
    assert answer["local-ip"] == janus.ice_address
    assert "dependencies" not in answer


def test_only_overleg_can_create_rooms(janus: JanusInstance) -> None:
    secret = {"apisecret": janus.api_secret}
    with janus_api(janus.url) as call:
        sid = call({"janus": "create", **secret})["data"]["id"]
        plugin = {"janus": "attach", "session_id": sid, "plugin": "janus.plugin.videoroom"}
        hid = call({**plugin, **secret})["data"]["id"]

        def room(body: dict[str, Any]) -> dict[str, Any]:
            message = {"janus": "message", "session_id": sid, "handle_id": hid, "body": body}
            answer = call({**message, **secret})
            assert answer["janus"] == "success", answer
            data: dict[str, Any] = answer["plugindata"]["data"]
            return data

        number = int.from_bytes(os.urandom(4), "big") + 1
        create = {"request": "create", "room": number, "is_private": True}
        assert room(create)["error_code"] == 429  # missing admin_key
        assert room({**create, "admin_key": "wrong-" + janus.admin_key})["error_code"] == 433
        assert room({"request": "exists", "room": number})["exists"] is False
        created = room({**create, "admin_key": janus.admin_key})
        assert created["videoroom"] == "created" and created["room"] == number
        assert room({"request": "exists", "room": number})["exists"] is True
        assert room({"request": "destroy", "room": number})["videoroom"] == "destroyed"


def test_admin_api_needs_the_admin_secret(janus: JanusInstance) -> None:
    with janus_api(janus.admin_url, Subprotocol("janus-admin-protocol")) as call:
        refused = call({"janus": "list_sessions", "admin_secret": janus.api_secret})
        assert refused["janus"] == "error" and refused["error"]["code"] == 403
        listed = call({"janus": "list_sessions", "admin_secret": janus.admin_secret})
        assert listed["janus"] == "success" and isinstance(listed["sessions"], list)


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                assert len(address) == width
                raw = bytes.fromhex(address)
                # /proc prints each 32-bit word in host (little-endian) order
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                found.append((_format(b"".join(words)), int(port, 16)))
    return found


def _format(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.ip_address(raw))


def test_janus_listens_on_loopback_only(janus: JanusInstance) -> None:
    assert janus.process is not None
    listening = _listening(janus.process.pid)
    assert sorted(port for _, port in listening) == sorted([janus.ws_port, janus.admin_ws_port])
    assert {address for address, _ in listening} == {"127.0.0.1"}


def test_a_pair_shares_secrets_on_separate_ports(janus_pair: list[JanusInstance]) -> None:
    a, b = janus_pair
    assert a.url != b.url and a.name != b.name
    assert (a.api_secret, a.admin_key) == (b.api_secret, b.admin_key)
    for instance in janus_pair:
        assert info(instance.url, a.api_secret)["server-name"] == instance.name


def test_an_instance_can_be_killed_and_started_again(
    janus_factory: Callable[..., JanusInstance],
) -> None:
    instance = janus_factory("restart")
    url = instance.url
    instance.kill()
    with pytest.raises((OSError, WebSocketException)):
        info(url, instance.api_secret, timeout=1.0)
    instance.start()
    assert instance.url == url
    assert info(url, instance.api_secret)["server-name"] == "restart"
    assert instance.log_path.exists()
