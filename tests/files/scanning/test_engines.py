"""The YARA and macro engines on their own (no clamd)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overleg.files.scanning import macros, yara_rules
from overleg.files.scanning.signatures import MARKER_RULE, eicar, malware_marker
from tests.files.scanning import office

# --- YARA --------------------------------------------------------------------------------


def test_builtin_rules_without_a_folder() -> None:
    rules = yara_rules.load(None)
    assert rules.files == () and rules.problems == ()
    hits = rules.match(b"x" + eicar() + b"y", filename="a.bin", timeout=5)
    assert [(h.namespace, h.rule) for h in hits] == [("overleg", yara_rules.EICAR_RULE)]
    assert [h.rule for h in rules.match(malware_marker(), filename="m", timeout=5)] == [MARKER_RULE]
    assert rules.match(b"harmless", filename="h", timeout=5) == []


def test_rules_are_cached_until_the_folder_changes(tmp_path: Path) -> None:
    first = yara_rules.load(tmp_path)
    assert yara_rules.load(tmp_path) is first
    (tmp_path / "a.yar").write_text('rule A { strings: $a = "aaa-bbb" condition: $a }\n')
    second = yara_rules.load(tmp_path)
    assert second is not first and second.files == ("a.yar",)
    assert [h.rule for h in second.match(b"-aaa-bbb-", filename="x", timeout=5)] == ["A"]
    assert yara_rules.load(tmp_path) is second


def test_bad_rule_files_are_skipped_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "good.yar").write_text('rule Good { strings: $a = "good-one" condition: $a }')
    # the same rule name in another file does not clash: one namespace per file
    (tmp_path / "same.yara").write_text('rule Good { strings: $a = "good-two" condition: $a }')
    (tmp_path / "syntax.yar").write_text("rule { nope")
    (tmp_path / "include.yar").write_text('include "good.yar"\n')
    (tmp_path / "binary.yar").write_bytes(b"\xff\xfe\x00rule")
    (tmp_path / "ignored.txt").write_text("not a rule file")
    rules = yara_rules.load(tmp_path)
    assert rules.files == ("good.yar", "same.yara")
    assert {p.file for p in rules.problems} == {"syntax.yar", "include.yar", "binary.yar"}
    assert all(p.message and "\n" not in p.message for p in rules.problems)
    hits = rules.match(b"good-one good-two", filename="x", timeout=5)
    assert sorted((h.namespace, h.rule) for h in hits) == [
        ("admin:good.yar", "Good"),
        ("admin:same.yara", "Good"),
    ]


# --- macros ------------------------------------------------------------------------------


def test_suspicious_auto_exec_in_ooxml_and_in_vba_project() -> None:
    for data in (
        office.docm({"Module1": office.AUTOOPEN_SHELL}),
        office.vba_project_bin({"Module1": office.AUTOOPEN_SHELL}),
    ):
        found = macros.inspect(data, "x")
        assert found.has_macros and found.auto_exec and found.suspicious
        assert found.flags == "AWX"
        assert "AutoExec:AutoOpen" in found.keywords and "Suspicious:Shell" in found.keywords
        assert "Sub AutoOpen()" in found.source


def test_auto_exec_alone_is_not_suspicious() -> None:
    found = macros.inspect(office.docm({"M": 'Sub AutoOpen()\n    MsgBox "hi"\nEnd Sub\n'}))
    assert found.has_macros and found.auto_exec and not found.suspicious
    assert found.flags == "A--"


def test_no_macros() -> None:
    assert macros.inspect(office.docx()) == macros.NO_MACROS
    assert macros.inspect(b"plain text") == macros.NO_MACROS
    benign = macros.inspect(office.docm({"Module1": office.BENIGN}))
    assert benign.has_macros and not benign.auto_exec and not benign.suspicious


def test_candidates() -> None:
    assert macros.is_candidate(office.vba_project_bin({"M": office.BENIGN}))
    assert macros.is_candidate(b'<?xml version="1.0"?><?mso-application progid="Word"?>')
    # zips are walked: their vbaProject.bin member is the candidate
    assert not macros.is_candidate(office.docm({"M": office.BENIGN}))
    assert not macros.is_candidate(b"%PDF-1.7")


def test_a_broken_ole_file_is_a_macro_error() -> None:
    with pytest.raises(macros.MacroError):
        macros.inspect(macros.OLE_MAGIC + os.urandom(3000), "old.doc")
