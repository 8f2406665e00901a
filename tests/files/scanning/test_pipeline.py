"""``pipeline.scan`` end to end: a real clamd, YARA, oletools and the archive walk."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from overleg.files.scanning import ScannerUnavailable, scan, yara_rules
from overleg.files.scanning.pipeline import MacroPolicy, ScanResult
from overleg.files.scanning.signatures import (
    EICAR_HDB_NAME,
    EICAR_NDB_NAME,
    MARKER_RULE,
    eicar,
    fingerprint,
    malware_marker,
)
from overleg.files.scanning.yara_rules import EICAR_RULE
from tests.files.scanning import office
from tests.files.scanning.helpers import by, names, opener, zeros_zip, zipped
from tests.fixtures.clamd import STREAM_MAX_BYTES, ClamdInstance

CLAMD_EICAR = {f"{EICAR_HDB_NAME}.UNOFFICIAL", f"{EICAR_NDB_NAME}.UNOFFICIAL"}


async def run(
    clamd: ClamdInstance,
    data: bytes,
    name: str = "upload.bin",
    *,
    policy: MacroPolicy = "block",
    yara_dir: Path | None = None,
    size: int | None = None,
    **settings: Any,
) -> ScanResult:
    if yara_dir is not None:
        settings["scan_yara_dir"] = yara_dir
    return await scan(
        opener(data),
        size=len(data) if size is None else size,
        name=name,
        settings=clamd.settings(**settings),
        macro_policy=policy,
    )


def blocking(result: ScanResult) -> list[str]:
    return [f.name for f in result.findings if f.severity != "warning"]


async def test_a_plain_file_is_clean(clamd: ClamdInstance) -> None:
    result = await run(clamd, b"Dear all, the minutes of Monday's meeting.\n", "minutes.txt")
    assert result.state == "clean" and result.findings == [] and result.deep
    assert result.engines["clamav"].startswith("ClamAV ")
    assert result.engines["yara"].startswith("yara ")
    assert result.fingerprint == fingerprint(clamd.db_dir, clamd.yara_dir)


async def test_eicar_is_named_by_clamd_and_yara(clamd: ClamdInstance) -> None:
    result = await run(clamd, eicar(), "eicar.com")
    assert result.state == "infected"
    assert {f.name for f in by(result, "clamav")} <= CLAMD_EICAR and by(result, "clamav")
    assert names(result, "yara") == [EICAR_RULE]


async def test_eicar_inside_a_zip(clamd: ClamdInstance) -> None:
    result = await run(clamd, zipped({"docs/readme.txt": b"hi", "eicar.com": eicar()}), "a.zip")
    assert result.state == "infected"
    assert {f.name for f in by(result, "clamav")} <= CLAMD_EICAR and by(result, "clamav")
    [hit] = by(result, "yara")
    assert hit.name == EICAR_RULE and "a.zip/eicar.com" in hit.detail


async def test_eicar_inside_a_zip_inside_a_zip(clamd: ClamdInstance) -> None:
    inner = zipped({"eicar.com": eicar()})
    outer = zipped({"inner.zip": inner}, zipfile.ZIP_STORED)
    result = await run(clamd, outer, "outer.zip")
    assert result.state == "infected"
    assert {f.name for f in by(result, "clamav")} <= CLAMD_EICAR and by(result, "clamav")
    yara_hits = by(result, "yara")
    # the stored inner zip holds EICAR deflated: only the walk finds it, in the innermost file
    assert [h.name for h in yara_hits] == [EICAR_RULE]
    assert "outer.zip/inner.zip/eicar.com" in yara_hits[0].detail


async def test_the_test_marker_via_yara(clamd: ClamdInstance) -> None:
    data = b"quarterly report\n" + malware_marker() + b"\nend\n"
    result = await run(clamd, data, "report.txt")
    assert result.state == "infected"
    [hit] = by(result, "yara")
    assert hit.name == MARKER_RULE and "report.txt" in hit.detail
    # clamd knows the marker too, through overleg.yara in its database folder
    assert names(result, "clamav") == [f"YARA.{MARKER_RULE}.UNOFFICIAL"]


async def test_an_admin_rule_is_picked_up_and_a_broken_one_skipped(
    clamd: ClamdInstance, tmp_path: Path
) -> None:
    rules = tmp_path / "yara"
    rules.mkdir()
    sample = b"invoice: purple-elephant-42 pay now"
    assert (await run(clamd, sample, "x.txt", yara_dir=rules)).state == "clean"

    (rules / "site.yar").write_text(
        'rule Site_Purple_Elephant { strings: $a = "purple-elephant-42" condition: $a }\n'
    )
    result = await run(clamd, sample, "x.txt", yara_dir=rules)
    assert result.state == "infected"
    [hit] = by(result, "yara")
    assert hit.name == "Site_Purple_Elephant" and "admin:site.yar" in hit.detail

    (rules / "broken.yara").write_text("rule Broken { condition: nope }\n")
    result = await run(clamd, sample, "x.txt", yara_dir=rules)
    assert result.state == "infected"  # the other rules still work
    assert "Site_Purple_Elephant" in names(result, "yara")
    [skipped] = [f for f in result.findings if f.name == "Overleg.Yara.RuleFileSkipped"]
    assert skipped.severity == "warning" and "broken.yara" in skipped.detail
    assert "nope" in skipped.detail
    # and the built-in rules too
    assert (await run(clamd, eicar(), yara_dir=rules)).state == "infected"


async def test_an_admin_rule_can_use_the_file_name(clamd: ClamdInstance, tmp_path: Path) -> None:
    rules = tmp_path / "yara"
    rules.mkdir()
    (rules / "names.yar").write_text(
        'rule Script_By_Name { condition: extension == "js" or filename == "run.cmd" }\n'
    )
    assert (await run(clamd, b"x", "a.JS", yara_dir=rules)).state == "infected"
    assert (await run(clamd, zipped({"d/run.cmd": b"x"}), "a.zip", yara_dir=rules)).state == (
        "infected"
    )
    assert (await run(clamd, b"x", "a.txt", yara_dir=rules)).state == "clean"


# --- macros ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "keyword"),
    [
        ("autoopen.docm", office.docm({"Module1": office.AUTOOPEN_SHELL}), "AutoExec:AutoOpen"),
        (
            "budget.xlsm",
            office.xlsm({"Module1": office.WORKBOOK_OPEN_SHELL}),
            "AutoExec:Workbook_Open",
        ),
    ],
)
async def test_auto_executing_macros_per_policy(
    clamd: ClamdInstance, name: str, data: bytes, keyword: str
) -> None:
    blocked = await run(clamd, data, name, policy="block")
    assert blocked.state == "infected", blocked
    [macro] = by(blocked, "macros")
    assert macro.name == "Overleg.Macro.SuspiciousAutoExec" and macro.severity == "infected"
    assert keyword in macro.detail and "vbaProject.bin" in macro.detail
    assert blocked.engines["oletools"].startswith("oletools ")

    warned = await run(clamd, data, name, policy="warn")
    assert warned.state == "clean"
    [macro] = by(warned, "macros")
    assert macro.name == "Overleg.Macro.SuspiciousAutoExec" and macro.severity == "warning"

    allowed = await run(clamd, data, name, policy="allow")
    assert allowed.state == "clean" and by(allowed, "macros") == []


async def test_a_docx_without_macros_is_clean(clamd: ClamdInstance) -> None:
    result = await run(clamd, office.docx(), "letter.docx")
    assert result.state == "clean" and result.findings == []


async def test_harmless_macros_are_clean_with_a_warning(clamd: ClamdInstance) -> None:
    result = await run(clamd, office.docm({"Module1": office.BENIGN}), "calc.docm")
    assert result.state == "clean"
    [macro] = by(result, "macros")
    assert macro.name == "Overleg.Macro.Present" and macro.severity == "warning"


async def test_yara_reads_the_vba_source(clamd: ClamdInstance, tmp_path: Path) -> None:
    """The source is stored compressed: a rule on it matches only the extracted text."""
    rules = tmp_path / "yara"
    rules.mkdir()
    canary = "overleg-vba-canary-in-source"
    (rules / "vba.yar").write_text(
        f'rule Vba_Canary {{ strings: $a = "{canary}" condition: $a }}\n'
    )
    data = office.docm({"Module1": f'Sub Hello()\n    MsgBox "{canary}"\nEnd Sub\n'})
    assert canary.encode() not in data and canary.encode() not in office.vba_project_bin(
        {"Module1": f'Sub Hello()\n    MsgBox "{canary}"\nEnd Sub\n'}
    )
    result = await run(clamd, data, "hello.docm", yara_dir=rules, policy="allow")
    assert result.state == "infected"
    [hit] = by(result, "yara")
    assert hit.name == "Vba_Canary" and "(VBA source)" in hit.detail


async def test_an_unreadable_office_file_per_policy(clamd: ClamdInstance) -> None:
    broken = bytes.fromhex("D0CF11E0A1B11AE1") + os.urandom(2000)
    blocked = await run(clamd, broken, "old.doc", policy="block")
    assert blocked.state == "failed" and blocking(blocked) == ["Overleg.Macro.Unreadable"]
    warned = await run(clamd, broken, "old.doc", policy="warn")
    assert warned.state == "clean" and names(warned, "macros") == ["Overleg.Macro.Unreadable"]


# --- archives ----------------------------------------------------------------------------


async def test_a_zip_bomb_is_stopped_by_the_expanded_size(clamd: ClamdInstance) -> None:
    bomb = zeros_zip("zeros.bin", 64 * 1024 * 1024)  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 200_000
    result = await run(clamd, bomb, "bomb.zip", scan_archive_max_expanded_bytes=4 * 1024 * 1024)
    assert result.state == "infected"
    [limit] = by(result, "archive")
    assert limit.name == "Overleg.Archive.LimitExceeded.ExpandedSize"
    assert "bomb.zip/zeros.bin" in limit.detail


async def test_a_zip_bomb_by_ratio(clamd: ClamdInstance) -> None:
    result = await run(clamd, zeros_zip("zeros.bin", 16 * 1024 * 1024), "bomb.zip")
    assert result.state == "infected"
    assert names(result, "archive") == ["Overleg.Archive.LimitExceeded.Ratio"]


async def test_too_deep_nesting(clamd: ClamdInstance) -> None:
    data = b"plain"
    for level in range(3):
        data = zipped({f"level{level}.zip" if level else "file.txt": data})
    result = await run(clamd, data, "deep.zip", scan_archive_max_depth=2)
    assert result.state == "infected"
    assert names(result, "archive") == ["Overleg.Archive.LimitExceeded.Depth"]
    assert (await run(clamd, data, "deep.zip", scan_archive_max_depth=3)).state == "clean"


async def test_too_many_members(clamd: ClamdInstance) -> None:
    data = zipped({f"f{i}.txt": b"x" for i in range(11)})
    result = await run(clamd, data, "many.zip", scan_archive_max_members=10)
    assert result.state == "infected"
    assert names(result, "archive") == ["Overleg.Archive.LimitExceeded.Members"]
    assert (await run(clamd, data, "many.zip", scan_archive_max_members=11)).state == "clean"


async def test_a_corrupt_zip_fails(clamd: ClamdInstance) -> None:
    """Failed, not clean: what we cannot open we cannot vouch for (another unzipper may
    read more of it than zipfile does); an admin can look and release it."""
    whole = zipped({"a.txt": os.urandom(50_000), "b.txt": b"b" * 1000})
    for broken in (whole[: len(whole) // 2], b"PK\x03\x04" + os.urandom(500)):
        result = await run(clamd, broken, "broken.zip")
        assert result.state == "failed", result
        assert blocking(result) == ["Overleg.Archive.Corrupt"]


async def test_a_corrupt_member_fails(clamd: ClamdInstance) -> None:
    data = bytearray(zipped({"a.txt": b"a" * 5000}))
    start = data.index(b"PK\x03\x04") + 30 + len("a.txt")
    data[start + 5 : start + 15] = b"\xff" * 10  # inside the deflated data: a bad CRC at least
    result = await run(clamd, bytes(data), "broken.zip")
    assert result.state == "failed"
    assert blocking(result) == ["Overleg.Archive.Corrupt"]


# --- sizes -------------------------------------------------------------------------------


class Tracked:
    """An opener that counts the streams it opened and the ones closed."""

    def __init__(self, data: bytes) -> None:
        self.data, self.opened, self.closed = data, 0, 0

    def __call__(self) -> AsyncIterator[bytes]:
        self.opened += 1

        async def chunks() -> AsyncIterator[bytes]:
            try:
                for start in range(0, len(self.data), 1024 * 1024):
                    yield self.data[start : start + 1024 * 1024]
            finally:
                self.closed += 1

        return chunks()


async def test_over_clamds_size_limit_fails(clamd: ClamdInstance) -> None:
    data = os.urandom(STREAM_MAX_BYTES + 3 * 1024 * 1024)
    stream = Tracked(data)
    result = await scan(stream, size=len(data), name="big.bin", settings=clamd.settings())
    assert result.state == "failed"
    [error] = by(result, "clamav")
    assert error.name == "ClamAV.Error" and "size limit" in error.detail
    # deep inspection still ran: clamd stopped reading early, so the file was read again;
    # both streams were closed
    assert result.deep and stream.opened == stream.closed == 2


async def test_the_plaintext_is_read_once(clamd: ClamdInstance) -> None:
    stream = Tracked(eicar())
    result = await scan(stream, size=68, name="e.com", settings=clamd.settings())
    assert result.state == "infected" and result.deep and names(result, "yara") == [EICAR_RULE]
    assert stream.opened == stream.closed == 1


async def test_over_the_deep_limit_only_clamd_runs(clamd: ClamdInstance, tmp_path: Path) -> None:
    rules = tmp_path / "yara"
    rules.mkdir()
    (rules / "x.yar").write_text('rule Only_Yara { strings: $a = "only-yara-knows" condition: $a }')
    data = b"only-yara-knows" + b"." * 4000
    deep = await run(clamd, data, "a.txt", yara_dir=rules)
    assert deep.state == "infected" and deep.deep
    shallow = await run(clamd, data, "a.txt", yara_dir=rules, scan_deep_max_bytes=1024)
    assert shallow.state == "clean" and not shallow.deep
    assert names(shallow) == ["Overleg.Scan.DeepSkipped"]
    # clamd still sees everything
    shallow_eicar = await run(clamd, b"." * 4000 + eicar(), scan_deep_max_bytes=1024)
    assert shallow_eicar.state == "infected" and not shallow_eicar.deep


async def test_a_stream_longer_than_its_declared_size(clamd: ClamdInstance) -> None:
    data = b"." * 4000 + eicar()
    result = await run(clamd, data, size=10, scan_deep_max_bytes=1024)
    assert result.state == "infected" and not result.deep  # clamd read it all
    assert "Overleg.Scan.DeepSkipped" in names(result, "pipeline")


async def test_a_failing_stream_is_raised_never_clean(clamd: ClamdInstance) -> None:
    class StorageBroke(Exception):
        pass

    def open_stream() -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"part one"
            raise StorageBroke

        return chunks()

    with pytest.raises(StorageBroke):
        await scan(open_stream, size=100, name="x", settings=clamd.settings())


async def test_clamd_down_raises_then_clean_after_restart(
    clamd_factory: Callable[[], ClamdInstance],
) -> None:
    instance = clamd_factory()
    instance.stop()
    stream = Tracked(b"hello")
    with pytest.raises(ScannerUnavailable):
        await scan(stream, size=5, name="a.txt", settings=instance.settings())
    assert stream.opened == 0  # found out before reading anything
    instance.start()
    result = await scan(opener(b"hello"), size=5, name="a.txt", settings=instance.settings())
    assert result.state == "clean"


async def test_as_dict_is_plain_data(clamd: ClamdInstance) -> None:
    result = await run(clamd, eicar())
    record = result.as_dict()
    assert record["state"] == "infected"
    assert {"engine", "name", "detail", "severity"} == set(record["findings"][0])
    assert json.loads(json.dumps(record)) == record


async def test_an_engine_crash_is_failed_not_clean(
    clamd: ClamdInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(folder: object) -> None:
        raise RuntimeError("yara exploded")

    monkeypatch.setattr(yara_rules, "load", broken)
    result = await run(clamd, b"harmless")
    assert result.state == "failed"
    [error] = by(result, "pipeline")
    assert error.name == "Overleg.Scan.Error" and "yara exploded" in error.detail
