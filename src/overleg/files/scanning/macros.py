"""Office macros, found and judged with oletools (olevba + mraptor), in memory.

``inspect`` takes one file's bytes: an OLE2 compound file (.doc, .xls, .ppt, and the
``vbaProject.bin`` inside .docm/.xlsm/.pptm, which the archive walk hands over as a member)
or an OOXML zip, and says whether it has VBA macros, whether one runs by itself
(AutoOpen, Document_Open, Workbook_Open...) and whether mraptor calls it suspicious:
auto-executing AND writing files or executing something. The extracted VBA source is
returned as text because YARA strings do not match the compressed source inside the file.

The policy (block, warn, allow) is the pipeline's business, not this module's.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: an OLE2 compound file (MS-CFB) starts with these bytes
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
#: OOXML and other zips (PK\3\4)
ZIP_MAGIC = b"PK\x03\x04"
#: marks of text-based Office formats olevba also reads (Word 2003 XML, flat OPC, MHT)
_TEXT_MARKERS = (b"<?mso-application", b"schemas.microsoft.com/office/word/2003", b"pkg:package")


class MacroError(Exception):
    """The file looks like an Office document but its macros could not be read."""


@dataclass(frozen=True)
class MacroFindings:
    """``keywords`` are olevba's ``Type:Keyword`` pairs (``AutoExec:AutoOpen``,
    ``Suspicious:Shell``, ``IOC:cmd.exe``); ``flags`` mraptor's (``A`` auto-exec,
    ``W`` write, ``X`` execute; ``-`` for none); ``source`` all VBA code."""

    has_macros: bool
    auto_exec: bool
    suspicious: bool
    keywords: tuple[str, ...]
    flags: str
    source: str


NO_MACROS = MacroFindings(
    has_macros=False, auto_exec=False, suspicious=False, keywords=(), flags="---", source=""
)

_modules: tuple[ModuleType, ModuleType] | None = None
_import_lock = threading.Lock()


def _oletools() -> tuple[ModuleType, ModuleType]:
    """olevba and mraptor, imported on first use (they are slow to import, and pyparsing
    warns about a deprecated call at import time: that warning is not ours to show)."""
    global _modules
    with _import_lock:
        if _modules is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from oletools import mraptor, olevba  # type: ignore[import-untyped,unused-ignore]
            _modules = (olevba, mraptor)
        return _modules


def engine_version() -> str:
    olevba, _ = _oletools()
    return f"oletools {olevba.__version__}"


def is_candidate(data: bytes) -> bool:
    """Whether ``data`` may hold macros olevba can read: OLE2 or one of the text-based
    Office formats (not zips: see above; ``inspect`` itself also reads OOXML)."""
    if data.startswith(OLE_MAGIC):
        return True
    if data.startswith(ZIP_MAGIC):
        # OOXML keeps its VBA in an OLE2 member (vbaProject.bin): the archive walk hands
        # that member over, so the zip itself is not inspected twice
        return False
    if data.startswith(b"ID;P"):  # SYLK: Excel 4 macros in text
        return True
    head = data[:4096]
    return any(marker in head for marker in _TEXT_MARKERS) or (
        b"MIME-Version" in head and b"ActiveMime" in data
    )


def inspect(data: bytes, filename: str = "upload") -> MacroFindings:
    """The macros in ``data`` (``NO_MACROS`` if olevba sees none). ``MacroError`` when an
    OLE2 file cannot be parsed; other files olevba does not recognise have no macros."""
    olevba, mraptor = _oletools()
    try:
        parser = olevba.VBA_Parser(filename, data=data)
    except Exception as e:  # olevba raises FileOpenError and assorted parser errors
        if data.startswith(OLE_MAGIC):
            raise MacroError(f"not a readable OLE2 file: {_one_line(e)}") from None
        return NO_MACROS
    try:
        # olevba takes any other text for VBA source (a .bas file): that is no document
        if parser.type == olevba.TYPE_TEXT or not parser.detect_vba_macros():
            return NO_MACROS
        source = str(parser.get_vba_code_all_modules() or "")
        analysis: list[Any] = list(parser.analyze_macros() or [])
        raptor = mraptor.MacroRaptor(source)
        raptor.scan()
    except Exception as e:
        raise MacroError(f"macros could not be read: {_one_line(e)}") from None
    finally:
        parser.close()
    keywords = tuple(dict.fromkeys(f"{kind}:{keyword}" for kind, keyword, *_ in analysis))
    auto_exec = bool(raptor.autoexec) or any(k.startswith("AutoExec:") for k in keywords)
    return MacroFindings(
        has_macros=True,
        auto_exec=auto_exec,
        suspicious=bool(raptor.suspicious),
        keywords=keywords,
        flags=str(raptor.get_flags()),
        source=source,
    )


def _one_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
