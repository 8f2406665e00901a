"""``janus_config`` (pure: the files' text) and ``write_config`` (modes on disk)."""

from __future__ import annotations

import ipaddress
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overleg.meetings.media.config import (
    JANUS_JCFG,
    PLUGINS,
    TRANSPORTS,
    VIDEOROOM_JCFG,
    WEBSOCKETS_JCFG,
    debian_lib_folder,
    janus_config,
    new_secret,
    primary_address,
    protected_folders,
    write_config,
)

API, KEY, ADMIN = new_secret(), new_secret(), new_secret()


def make(**changes: object) -> dict[str, str]:
    values: dict[str, object] = {
        "name": "j1",
        "ws_port": 18188,
        "api_secret": API,
        "admin_key": KEY,
        "admin_secret": ADMIN,
        "ice_address": "192.0.2.10",
        "recordings_dir": "/srv/overleg/recordings",
        "configs_folder": "/srv/overleg/janus",
        "lib_folder": "/usr/lib/x86_64-linux-gnu/janus",
    }
    values.update(changes)
    return janus_config(**values)  # type: ignore[arg-type]


def setting(text: str, key: str) -> list[str]:
    """Every value given to ``key`` (quotes removed)."""
    return [m.strip('"') for m in re.findall(rf"^\s*{key}\s*=\s*(\S+)\s*$", text, re.M)]


def section(text: str, name: str) -> str:
    match = re.search(rf"^{name}: \{{\n(.*?)^\}}", text, re.M | re.S)
    assert match, f"no section {name}"
    return match[1]


def disabled(text: str, name: str) -> set[str]:
    (value,) = setting(section(text, name), "disable")
    return set(value.split(","))


def test_the_three_files_are_generated() -> None:
    assert set(make()) == {JANUS_JCFG, WEBSOCKETS_JCFG, VIDEOROOM_JCFG}


@pytest.mark.parametrize("admin_ws_port", [None, 17188])
def test_every_listener_is_on_loopback(admin_ws_port: int | None) -> None:
    files = make(admin_ws_port=admin_ws_port)
    ws = files[WEBSOCKETS_JCFG]
    assert setting(ws, "ws") == ["true"] and setting(ws, "ws_port") == ["18188"]
    assert setting(ws, "wss") == ["false"] and setting(ws, "admin_wss") == ["false"]
    if admin_ws_port is None:
        assert setting(ws, "admin_ws") == ["false"]
        assert setting(ws, "admin_ws_ip") == []
    else:
        assert setting(ws, "admin_ws") == ["true"]
        assert setting(ws, "admin_ws_port") == ["17188"]
    # every address a server binds to: only loopback, and each enabled server has one
    binds = [ip for f in files.values() for ip in re.findall(r'_ip\s*=\s*"([^"]*)"', f)]
    assert binds == ["127.0.0.1"] * (1 if admin_ws_port is None else 2)
    assert not any(re.search(r"_interface\s*=", f) for f in files.values())


def test_only_videoroom_and_websockets_are_loaded() -> None:
    text = make()[JANUS_JCFG]
    assert set(PLUGINS) - disabled(text, "plugins") == {"libjanus_videoroom.so"}
    assert set(TRANSPORTS) - disabled(text, "transports") == {"libjanus_websockets.so"}
    assert disabled(text, "loggers") == {"libjanus_jsonlog.so"}
    assert setting(section(text, "events"), "broadcast") == ["false"]


def test_every_library_debian_ships_but_ours_is_disabled() -> None:
    """Against the installed package: a library the list does not know would be loaded."""
    lib = Path(debian_lib_folder())
    if not lib.is_dir():
        pytest.skip("Debian's janus package is not installed")
    text = make(lib_folder=str(lib))[JANUS_JCFG]
    for folder, section_name, ours in [
        ("plugins", "plugins", {"libjanus_videoroom.so"}),
        ("transports", "transports", {"libjanus_websockets.so"}),
        ("loggers", "loggers", set()),
        ("events", "events", set()),
    ]:
        shipped = {p.name for p in (lib / folder).glob("*.so")}
        assert shipped, folder
        assert shipped - disabled(text, section_name) == ours, folder
        assert setting(section(text, "general"), f"{folder}_folder") == [str(lib / folder)]


def test_secrets_are_in_place() -> None:
    files = make()
    general = section(files[JANUS_JCFG], "general")
    assert setting(general, "api_secret") == [API]
    assert setting(general, "admin_secret") == [ADMIN]
    assert setting(general, "token_auth") == ["false"]
    assert setting(files[VIDEOROOM_JCFG], "admin_key") == [KEY]
    assert setting(files[VIDEOROOM_JCFG], "lock_rtp_forward") == ["true"]
    # no static rooms: the only section of the videoroom file is general
    assert re.findall(r"^(\w+): \{", files[VIDEOROOM_JCFG], re.M) == ["general"]


def test_no_stun_turn_and_ice_on_the_given_address() -> None:
    text = make(ice_address="192.0.2.10")[JANUS_JCFG]
    nat = section(text, "nat")
    assert setting(nat, "ice_enforce_list") == ["192.0.2.10"]
    assert not re.search(r"stun|turn", text, re.I)
    assert setting(nat, "nat_1_1_mapping") == []
    assert setting(
        section(make(public_address="203.0.113.7")[JANUS_JCFG], "nat"), "nat_1_1_mapping"
    ) == ["203.0.113.7"]


def _protected(text: str) -> list[str]:
    match = re.search(r"protected_folders = \[\n(.*?)\n\t\]", text, re.S)
    assert match
    return [line.strip().strip(",").strip('"') for line in match[1].splitlines()]


@pytest.mark.parametrize(
    ("recordings", "dropped"),
    [
        ("/srv/overleg/recordings", set()),
        ("/var/lib/overleg/recordings-raw", {"/var"}),
        ("/tmp/pytest/recordings", set()),
    ],
)
def test_recordings_dir_is_not_protected(recordings: str, dropped: set[str]) -> None:
    listed = _protected(make(recordings_dir=recordings)[JANUS_JCFG])
    assert listed == protected_folders(recordings)
    # Janus refuses to record below any entry that is a string prefix of the real path
    assert not [f for f in listed if recordings.startswith(f)]
    assert {"/etc", "/usr", "/proc"} <= set(listed)
    assert dropped.isdisjoint(listed)


@pytest.mark.parametrize(
    "bad",
    [
        'abc"defghijklmnopqrstu',
        "abcdefghijklmnop\\qrstu",
        "abcdefghijklmnop\nqrstu",
        "abcdefghijklmnopqrstu\n",
        "short",
        "",
    ],
)
@pytest.mark.parametrize("which", ["api_secret", "admin_key", "admin_secret"])
def test_a_bad_secret_is_refused(which: str, bad: str) -> None:
    with pytest.raises(ValueError, match=which):
        make(**{which: bad})


@given(
    st.text(min_size=8, max_size=32),
    st.sampled_from(['"', "\\", "\n", "\r", "\x00", "\x1f", "\x7f", " ", "'"]),
    st.text(min_size=8, max_size=32),
)
def test_no_secret_can_break_out_of_its_string(before: str, bad: str, after: str) -> None:
    for which in ("api_secret", "admin_key", "admin_secret"):
        with pytest.raises(ValueError, match=which):
            make(**{which: before + bad + after})


@given(st.text(alphabet="abcXYZ019_-", min_size=16, max_size=64))
def test_a_url_safe_secret_is_written_as_is(token: str) -> None:
    text = make(api_secret=token, admin_key=KEY + "x", admin_secret=ADMIN + "x")[JANUS_JCFG]
    assert setting(section(text, "general"), "api_secret") == [token]


def test_one_value_for_several_secrets_is_refused() -> None:
    with pytest.raises(ValueError, match="different"):
        make(admin_key=API)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": 'a"b'}, "name"),
        ({"name": "a b"}, "name"),
        ({"ws_port": 0}, "ws_port"),
        ({"ws_port": 70000}, "ws_port"),
        ({"admin_ws_port": 18188}, "differ"),
        ({"ice_address": "127.0.0.1"}, "ice_address"),
        ({"ice_address": "eth0"}, "ice_address"),
        ({"ice_address": "0.0.0.0"}, "ice_address"),
        ({"public_address": "not-an-ip"}, "public_address"),
        ({"recordings_dir": "relative/rec"}, "recordings_dir"),
        ({"recordings_dir": '/srv/"x'}, "recordings_dir"),
        ({"configs_folder": "/srv/a\nb"}, "configs_folder"),
        ({"lib_folder": "/usr/lib\\x"}, "lib_folder"),
        ({"rtp_port_range": "40000-20000"}, "rtp_port_range"),
        ({"session_timeout": 1}, "session_timeout"),
    ],
)
def test_bad_values_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**changes)


def test_write_config_keeps_the_files_private(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "janus"
    written = write_config(folder, make())
    assert sorted(p.name for p in written) == sorted(make())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == make()[path.name]
    # rewriting replaces the content and leaves no temporary files behind
    write_config(folder, {JANUS_JCFG: "general: {\n}\n"})
    assert (folder / JANUS_JCFG).read_text() == "general: {\n}\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted(make())


@pytest.mark.parametrize("name", ["../escape.jcfg", "a/b.jcfg", "..", ""])
def test_write_config_refuses_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        write_config(tmp_path / "j", {name: "x"})
    assert not (tmp_path / "escape.jcfg").exists()


def test_primary_address_is_a_non_loopback_ipv4_of_this_host() -> None:
    try:
        address = ipaddress.ip_address(primary_address())
    except OSError:
        pytest.skip("this host has only loopback")
    assert address.version == 4
    assert not address.is_loopback and not address.is_unspecified
    # it is an address of this host: a socket can bind to it
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((str(address), 0))


@pytest.mark.parametrize(("address", "ipv6"), [("192.0.2.10", "false"), ("2001:db8::10", "true")])
def test_ipv6_candidates_only_for_an_ipv6_ice_address(address: str, ipv6: str) -> None:
    text = make(ice_address=address)[JANUS_JCFG]
    assert setting(section(text, "media"), "ipv6") == [ipv6]
    assert setting(section(text, "nat"), "ice_enforce_list") == [address]
