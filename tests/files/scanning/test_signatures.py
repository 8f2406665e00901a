"""Overleg's own signatures, the fingerprint, and freshclam (which must fail fast offline)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from overleg.files.scanning import signatures
from overleg.files.scanning.signatures import (
    HDB_FILE,
    NDB_FILE,
    YARA_FILE,
    eicar,
    fingerprint,
    malware_marker,
    update,
    write_builtin,
)
from overleg.settings import Settings
from tests.fixtures.services import missing

REPO = Path(__file__).resolve().parents[3]


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        scan_clamd_socket=tmp_path / "clamd" / "clamd.sock",
        scan_clamd_tcp=None,
        scan_clamd_db_dir=tmp_path / "clamav",
        scan_yara_dir=tmp_path / "yara",
    )


def test_eicar_and_the_marker() -> None:
    assert len(eicar()) == 68
    assert hashlib.md5(eicar()).hexdigest() == "44d88612fea8a8f36de82e1278abb02f"
    assert malware_marker().decode().isascii()


def test_no_file_of_the_scanner_holds_eicar_or_the_marker() -> None:
    """They are assembled at run time: a scanner run over the checkout must find nothing
    in the scanner's own sources, tests and docs."""
    needles = (eicar(), malware_marker(), eicar().hex().encode())
    paths = [
        *(REPO / "src" / "overleg" / "files" / "scanning").rglob("*.py"),
        *(REPO / "tests" / "files" / "scanning").rglob("*.py"),
        REPO / "tests" / "fixtures" / "clamd.py",
        REPO / "src" / "overleg" / "cli" / "scan.py",
        REPO / "docs" / "scanning.md",
    ]
    for path in paths:
        data = path.read_bytes()
        assert not any(n in data for n in needles), path


def test_builtin_files_are_written_once(tmp_path: Path) -> None:
    db = tmp_path / "clamav"
    written = write_builtin(db)
    assert sorted(p.name for p in written) == sorted([HDB_FILE, NDB_FILE, YARA_FILE])
    assert oct(db.stat().st_mode & 0o777) == "0o700"
    assert eicar().hex() in (db / NDB_FILE).read_text()
    before = fingerprint(db)
    assert write_builtin(db) == []  # unchanged files are not rewritten: same fingerprint
    assert fingerprint(db) == before
    (db / HDB_FILE).write_text("tampered\n")
    assert write_builtin(db) == [db / HDB_FILE]
    assert fingerprint(db) == before


def test_the_fingerprint_follows_databases_and_rules(tmp_path: Path) -> None:
    db, rules = tmp_path / "clamav", tmp_path / "yara"
    empty = fingerprint(db, rules)  # missing folders count as empty
    write_builtin(db)
    seen = {empty, fingerprint(db, rules)}

    def changed() -> str:
        now = fingerprint(db, rules)
        assert now not in seen, "the fingerprint did not change"
        seen.add(now)
        return now

    (db / "site.ndb").write_text("Site.Sig:0:*:6162636465\n")
    changed()
    (db / "site.ndb").write_text("Site.Sig:0:*:6162636466\n")  # same size, other content
    changed()
    rules.mkdir()
    without_rules = fingerprint(db, rules)
    (rules / "a.yar").write_text("rule A { condition: true }\n")
    changed()
    (rules / "a.yar").write_text("rule A { condition: false }")
    changed()
    (rules / "a.yar").unlink()
    assert fingerprint(db, rules) == without_rules  # back to what it was
    (rules / "b.yara").write_text("rule B { condition: false }")
    changed()
    # a big database file (the official ones): size and modification time
    big = db / "daily.cld"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))
    changed()
    stamp = time.time_ns() + 5_000_000_000
    os.utime(big, ns=(stamp, stamp))
    last = changed()
    # what is not a signature does not count
    (db / "freshclam.dat").write_bytes(os.urandom(100))
    (db / "notes.txt").write_text("x")
    (rules / "README").write_text("x")
    assert fingerprint(db, rules) == last
    assert fingerprint(db, rules) != fingerprint(db, None)


def test_update_without_freshclam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signatures, "find_binary", lambda name: None)
    outcome = update(settings_for(tmp_path))
    assert not outcome.ok and "not installed" in outcome.message
    assert outcome.changed  # Overleg's own signatures were written
    assert (tmp_path / "clamav" / NDB_FILE).exists()


def test_update_with_an_unreachable_mirror_fails_fast_and_clearly(tmp_path: Path) -> None:
    if signatures.find_binary("freshclam") is None:
        missing("freshclam (apt-get install clamav-freshclam)")
    settings = settings_for(tmp_path)
    # port 1 on loopback: connection refused at once, with or without the internet
    outcome = update(settings, mirror="http://127.0.0.1:1", timeout=60)
    assert not outcome.ok
    assert outcome.message.startswith("freshclam failed (exit ")
    assert "\n" not in outcome.message
    conf = (tmp_path / "clamd" / "freshclam.conf").read_text()
    assert f"DatabaseDirectory {(tmp_path / 'clamav').resolve()}" in conf
    assert "PrivateMirror http://127.0.0.1:1" in conf and "MaxAttempts 1" in conf
    # the own signatures are in place all the same
    assert outcome.fingerprint == signatures.settings_fingerprint(settings)
    assert (tmp_path / "clamav" / HDB_FILE).exists()
