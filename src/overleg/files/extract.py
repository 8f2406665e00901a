"""Text from uploads, for the content gate (DLP) and the search index.

``extract_text`` reads plain text, PDF (pypdf), Word (python-docx) and Excel (openpyxl)
files and never raises: a file it cannot read gives ``Extracted.error`` (a stable code:
``encrypted``, ``corrupted``, ``too_large``, ``unsafe``) with whatever text it could read
before the problem. Other types give empty text and no error: there is nothing to read.

Nothing in a file is executed or fetched: no macros (the VBA part is never read), no
formulas evaluated (the values Excel cached are read, a formula's text is not), no external
links, no PDF JavaScript (pypdf has no interpreter). Office files are zips: before a parser
sees one, the declared expanded size of every entry is checked against caps (``zipfile``
stops at the declared size, so a lying entry fails its CRC instead of expanding), and every
XML part is refused if it has a DTD, which Office Open XML forbids; without a DTD no entity
can expand or point outside. (The parsers are safe without that check too: python-docx
parses with lxml and ``resolve_entities=False``; openpyxl parses with lxml and
``resolve_entities=False`` or with the standard library's expat, which fetches no external
entities and limits entity amplification since 2.4.)

All work is bounded by the caps in the arguments; time is bounded only as far as the caps
bound it, so callers run extraction in a job, not in a request.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from overleg.files.content import ENCRYPTED_OFFICE, EXCEL_TYPES, WORD_TYPES, Detected, Kind

if TYPE_CHECKING:
    from docx.opc.part import Part

MAX_CHARS = 2_000_000
MAX_PAGES = 2_000
MAX_CELLS = 1_000_000
MAX_EXPANDED = 256 * 1024 * 1024
MAX_XML_PART = 64 * 1024 * 1024
MAX_ENTRIES = 10_000

ENCRYPTED = "encrypted"
CORRUPTED = "corrupted"
TOO_LARGE = "too_large"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class Extracted:
    """``truncated``: a cap (characters, pages, cells) cut the text short. ``error``: the
    file could not be read (fully); ``text`` holds what was read before that."""

    text: str
    truncated: bool = False
    error: str | None = None


class _Full(Exception):
    """The character cap is reached: stop reading."""


class _Text:
    def __init__(self, max_chars: int) -> None:
        self.parts: list[str] = []
        self.left = max_chars
        self.truncated = False

    def line(self, text: str) -> None:
        text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
        if not text:
            return
        piece = text if not self.parts else "\n" + text
        if len(piece) > self.left:
            self.parts.append(piece[: self.left])
            self.left = 0
            self.truncated = True
            raise _Full
        self.parts.append(piece)
        self.left -= len(piece)

    def result(self, error: str | None = None, *, truncated: bool = False) -> Extracted:
        return Extracted("".join(self.parts), self.truncated or truncated, error)


def extract_text(
    data: bytes,
    detected: Detected,
    *,
    max_chars: int = MAX_CHARS,
    max_pages: int = MAX_PAGES,
    max_cells: int = MAX_CELLS,
    max_expanded: int = MAX_EXPANDED,
    max_xml_part: int = MAX_XML_PART,
    max_entries: int = MAX_ENTRIES,
) -> Extracted:
    """The text of ``data`` as ``detected`` (use ``detect_full``: from the head alone a
    docx may look like a plain zip) says it is. Never raises."""
    out = _Text(max_chars)
    try:
        if detected.mime == ENCRYPTED_OFFICE:
            return out.result(ENCRYPTED)
        if detected.mime == "application/pdf":
            return _pdf(data, out, max_pages)
        if detected.mime in WORD_TYPES or detected.mime in EXCEL_TYPES:
            problem = _check_package(
                data, max_expanded=max_expanded, max_xml_part=max_xml_part, max_entries=max_entries
            )
            if problem is not None:
                return out.result(problem)
            if detected.mime in WORD_TYPES:
                _docx(data, out)
            else:
                return _xlsx(data, out, max_cells)
        elif detected.kind in (Kind.TEXT, Kind.SCRIPT):
            return _text(data, out, max_chars)
        return out.result()
    except _Full:
        return out.result()
    except Exception:
        # a parser's failure on hostile input: never an exception out of here, and never
        # its message (it may quote the file)
        return out.result(CORRUPTED)


# --- text --------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes) -> str:
    """Text from bytes: by BOM (UTF-8, UTF-16, UTF-32), else UTF-8 if it is valid, else
    Windows-1252 (the superset of Latin-1 that Windows writes), else Latin-1, which decodes
    anything. A multi-byte sequence cut off at the end of ``data`` is dropped."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoder = codecs.getincrementaldecoder(encoding)("replace")
            return decoder.decode(data[len(bom) :], final=False)
    try:
        return codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=False)
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text(data: bytes, out: _Text, max_chars: int) -> Extracted:
    # at most 4 bytes per character in any of the encodings above, plus a BOM
    limit = max_chars * 4 + 4
    text = decode_text(data[:limit])
    out.line(text)
    return out.result(truncated=len(data) > limit)


# --- PDF ---------------------------------------------------------------------------------


def _pdf(data: bytes, out: _Text, max_pages: int) -> Extracted:
    from pypdf import PasswordType, PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        # many PDFs are encrypted with an empty user password (only "permissions"): any
        # viewer opens them, so DLP must read them too
        try:
            opened = reader.decrypt("")
        except Exception:
            return out.result(ENCRYPTED)
        if opened == PasswordType.NOT_DECRYPTED:
            return out.result(ENCRYPTED)
    count = len(reader.pages)
    error: str | None = None
    for index in range(min(count, max_pages)):
        try:
            text = reader.pages[index].extract_text()
        except Exception:
            error = CORRUPTED  # keep the other pages
            continue
        out.line(text.rstrip("\n"))
    return out.result(error, truncated=count > max_pages)


# --- Office packages ----------------------------------------------------------------------

_XML_SUFFIXES = (".xml", ".rels", ".vml")
_PROLOG_LIMIT = 64 * 1024


def _check_package(
    data: bytes, *, max_expanded: int, max_xml_part: int, max_entries: int
) -> str | None:
    """``too_large``, ``unsafe`` or ``corrupted`` if the zip must not reach a parser."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                return TOO_LARGE
            if sum(i.file_size for i in infos) > max_expanded:
                return TOO_LARGE
            for info in infos:
                if not info.filename.lower().endswith(_XML_SUFFIXES):
                    continue
                if info.file_size > max_xml_part:
                    return TOO_LARGE
                with zf.open(info) as part:
                    if _has_dtd(part):
                        return UNSAFE
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        return CORRUPTED
    return None


def _has_dtd(part: IO[bytes]) -> bool:
    """Whether an XML document's prolog has a DOCTYPE. A prolog longer than the limit
    counts as one: no Office part has a prolog that long."""
    raw = part.read(1024)
    while True:
        verdict = _prolog_verdict(raw)
        if verdict is not None:
            return verdict
        more = part.read(len(raw))
        if not more or len(raw) >= _PROLOG_LIMIT:
            return True
        raw += more


def _prolog_verdict(raw: bytes) -> bool | None:
    """True: a DOCTYPE before the root element; False: the root element and no DOCTYPE;
    None: ``raw`` ends inside the prolog."""
    # Office XML is UTF-8 or UTF-16 (ECMA-376 Part 2); a BOM decodes to U+FEFF, dropped
    if raw.startswith(codecs.BOM_UTF16_LE) or raw[:2] == b"<\x00":
        encoding = "utf-16-le"
    elif raw.startswith(codecs.BOM_UTF16_BE) or raw[:2] == b"\x00<":
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    text = codecs.getincrementaldecoder(encoding)("replace").decode(raw, final=False)
    text = text.lstrip("\ufeff")
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        rest = text[pos:]
        if not rest:
            return None
        if rest.startswith("<?"):
            close = "?>"
        elif rest.startswith("<!--"):
            close = "-->"
        elif rest.startswith("<!"):
            if len(rest) < 4 and "<!--".startswith(rest):
                return None  # a comment's start cut by the read
            return True  # <!DOCTYPE (or anything else that is not a comment)
        elif len(rest) < 2:
            return None
        else:
            return False  # the root element, or not XML at all (the parser will say)
        end = rest.find(close, 2)
        if end < 0:
            return None
        pos += end + len(close)


def _docx(data: bytes, out: _Text) -> None:
    from docx.opc.package import OpcPackage

    # the OPC package, not docx.Document: it opens macro-enabled files and templates too,
    # and gives the header, footer and note parts
    package = OpcPackage.open(io.BytesIO(data))
    stories: dict[str, list[Part]] = {kind: [] for kind in _DOCX_STORIES.values()}
    for part in package.iter_parts():
        story = _DOCX_STORIES.get(part.content_type.lower())
        if story is not None:
            stories[story].append(part)
    for story in ("header", "document", "footer", "footnotes", "endnotes", "comments"):
        for part in stories[story]:
            for line in _paragraph_texts(_part_xml(part)):
                out.line(line)


_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml."
_DOCX_STORIES = {
    _WML + "header+xml": "header",
    _WML + "document.main+xml": "document",
    _WML + "template.main+xml": "document",
    "application/vnd.ms-word.document.macroenabled.main+xml": "document",
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": "document",
    _WML + "footer+xml": "footer",
    _WML + "footnotes+xml": "footnotes",
    _WML + "endnotes+xml": "endnotes",
    _WML + "comments+xml": "comments",
}

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _part_xml(part: Part) -> Any:
    from docx.oxml.parser import parse_xml

    element = getattr(part, "element", None)  # an XmlPart is parsed already
    if element is not None:
        return element
    return parse_xml(part.blob)


def _paragraph_texts(root: Any) -> Iterator[str]:
    """Each paragraph's text in document order: body paragraphs, table cells (one per
    line), text boxes and nested tables alike. A paragraph's own text does not include
    the paragraphs nested in it (a text box's), which come as lines of their own. The
    ``mc:Fallback`` copy of a text box (for old readers) is skipped."""
    for p in root.iter(_W + "p"):
        if _inside_fallback(p):
            continue
        pieces: list[str] = []
        _own_text(p, pieces)
        text = "".join(pieces)
        if text.strip():
            yield text


def _inside_fallback(el: Any) -> bool:
    parent = el.getparent()
    while parent is not None:
        if parent.tag == _MC_FALLBACK:
            return True
        parent = parent.getparent()
    return False


def _own_text(el: Any, pieces: list[str]) -> None:
    for child in el:
        tag = child.tag
        if tag == _W + "p" or tag == _MC_FALLBACK:
            continue  # its own line
        if tag in (_W + "t", _W + "delText"):
            # tracked deletions too: they travel with the file and show with the markup
            pieces.append(child.text or "")
        elif tag == _W + "tab":
            pieces.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            pieces.append("\n")
        else:
            _own_text(child, pieces)


def _xlsx(data: bytes, out: _Text, max_cells: int) -> Extracted:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # openpyxl warns about every feature it does not read (data validation, ...)
        warnings.simplefilter("ignore")
        workbook = load_workbook(
            io.BytesIO(data),
            read_only=True,
            data_only=True,  # the cached values, never the formulas
            keep_vba=False,
            keep_links=False,
            rich_text=False,
        )
        try:
            cells = 0
            for sheet in workbook.worksheets:
                out.line(sheet.title)
                for row in sheet.iter_rows(values_only=True):
                    cells += max(1, len(row))
                    if cells > max_cells:
                        return out.result(truncated=True)
                    values = [_cell_text(v) for v in row if v is not None]
                    out.line("\t".join(v for v in values if v))
        finally:
            workbook.close()
    return out.result()


def _cell_text(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)
