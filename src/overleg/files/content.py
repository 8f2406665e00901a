"""What an uploaded file is, decided by its bytes, never by its name or the client's word.

``detect(head, name)`` looks at the first bytes only (libmagic plus exact signatures), for
the moment an upload starts. ``detect_full(source, name)`` also opens containers: a zip is
told apart (docx, docm, xlsx, xlsm, pptx, jar, apk, odt ... or a plain zip) by its
``[Content_Types].xml`` and its entries, an OLE2 file by its root CLSID (an MSI is an
installer, a .doc is not), and a jar appended to anything (a "GIFAR") is found. Zip-based
formats need ``detect_full`` for a reliable answer: from the head alone libmagic sees only
the first entries, so a real docx written in an unusual order may look like a plain zip,
a plain zip whose first entry is in ``word/`` looks like a docx, and a docm like a docx.

The name is only a hint, in two places: a text file whose extension Windows or a shell runs
(``.ps1``, ``.vbs``, ``.js``, ``.bat``, ``.sh`` ...) counts as an executable script, and
``mismatch`` says whether the extension claims something the bytes are not.

``clean_name`` validates a name from a client; ``blocked`` applies a policy deny-list.
Nothing here executes, fetches or writes anything.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import IO
from xml.etree import ElementTree

import magic

HEAD_SIZE = 8 * 1024
"""How many leading bytes ``detect`` needs; more are ignored."""

MAX_NAME_BYTES = 255


class Kind(StrEnum):
    IMAGE = "image"
    PDF = "pdf"
    OFFICE = "office"
    TEXT = "text"
    ARCHIVE = "archive"
    AUDIO = "audio"
    VIDEO = "video"
    EXECUTABLE = "executable"
    SCRIPT = "script"
    OTHER = "other"


@dataclass(frozen=True)
class Detected:
    """``mime``: the type the bytes show (libmagic's name, refined for containers).
    ``executable``: the content runs when opened or executed (native binaries, installers,
    shortcuts, Java archives and classes, and scripts that a shell or Windows runs).
    ``mismatch``: the name's extension claims another type. ``macros``: an Office file that
    carries a VBA project (or is of a macro-enabled type)."""

    mime: str
    kind: Kind
    executable: bool
    mismatch: bool
    macros: bool = False
    extension: str = ""


# --- MIME types --------------------------------------------------------------------------

_OOXML = "application/vnd.openxmlformats-officedocument."
DOCX = _OOXML + "wordprocessingml.document"
DOTX = _OOXML + "wordprocessingml.template"
XLSX = _OOXML + "spreadsheetml.sheet"
XLTX = _OOXML + "spreadsheetml.template"
PPTX = _OOXML + "presentationml.presentation"
PPSX = _OOXML + "presentationml.slideshow"
POTX = _OOXML + "presentationml.template"
DOCM = "application/vnd.ms-word.document.macroenabled.12"
DOTM = "application/vnd.ms-word.template.macroenabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroenabled.12"
XLTM = "application/vnd.ms-excel.template.macroenabled.12"
XLAM = "application/vnd.ms-excel.addin.macroenabled.12"
PPTM = "application/vnd.ms-powerpoint.presentation.macroenabled.12"
PPSM = "application/vnd.ms-powerpoint.slideshow.macroenabled.12"
POTM = "application/vnd.ms-powerpoint.template.macroenabled.12"
PPAM = "application/vnd.ms-powerpoint.addin.macroenabled.12"

ENCRYPTED_OFFICE = "application/encrypted"
"""libmagic's type for a password-protected Office file (an OLE2 "EncryptedPackage")."""

WORD_TYPES = frozenset({DOCX, DOTX, DOCM, DOTM})
EXCEL_TYPES = frozenset({XLSX, XLTX, XLSM, XLTM, XLAM})
MACRO_ENABLED_TYPES = frozenset({DOCM, DOTM, XLSM, XLTM, XLAM, PPTM, PPSM, POTM, PPAM})

# the main part's content type in [Content_Types].xml -> the file's MIME type
_MAIN_PARTS = {
    _OOXML + "wordprocessingml.document.main+xml": DOCX,
    _OOXML + "wordprocessingml.template.main+xml": DOTX,
    "application/vnd.ms-word.document.macroenabled.main+xml": DOCM,
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": DOTM,
    _OOXML + "spreadsheetml.sheet.main+xml": XLSX,
    _OOXML + "spreadsheetml.template.main+xml": XLTX,
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": XLSM,
    "application/vnd.ms-excel.template.macroenabled.main+xml": XLTM,
    "application/vnd.ms-excel.addin.macroenabled.main+xml": XLAM,
    _OOXML + "presentationml.presentation.main+xml": PPTX,
    _OOXML + "presentationml.slideshow.main+xml": PPSX,
    _OOXML + "presentationml.template.main+xml": POTX,
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml": PPTM,
    "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml": PPSM,
    "application/vnd.ms-powerpoint.template.macroenabled.main+xml": POTM,
    "application/vnd.ms-powerpoint.addin.macroenabled.main+xml": PPAM,
}

_EXECUTABLE_TYPES = frozenset(
    {
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-object",
        "application/x-coredump",
        "application/x-elf",
        "application/x-mach-binary",
        "application/x-ms-shortcut",
        "application/x-msi",
        "application/x-ms-installer",
        "application/x-java-applet",
        "application/java-archive",
        "application/x-java-archive",
        "application/vnd.android.package-archive",
    }
)
_SCRIPT_TYPES = frozenset(
    {
        "text/x-shellscript",
        "application/x-shellscript",
        "text/x-msdos-batch",
        "text/x-script.python",
        "text/x-python",
        "text/x-perl",
        "text/x-ruby",
        "text/x-php",
        "text/x-tcl",
        "text/x-lua",
        "text/x-awk",
        "application/javascript",
        "text/javascript",
    }
)
# scripts that run when executed or double-clicked (Python or Perl modules without a #!
# line are code, not programs the desktop runs)
_RUNNABLE_SCRIPT_TYPES = frozenset(
    {"text/x-shellscript", "application/x-shellscript", "text/x-msdos-batch"}
)
_ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar",
        "application/vnd.rar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-lzma",
        "application/x-lzip",
        "application/x-compress",
        "application/x-cpio",
        "application/x-archive",
        "application/x-iso9660-image",
        "application/x-apple-diskimage",
        "application/vnd.ms-cab-compressed",
        "application/x-arj",
        "application/x-lha",
    }
)
_OFFICE_TYPES = (
    WORD_TYPES
    | EXCEL_TYPES
    | MACRO_ENABLED_TYPES
    | {PPTX, PPSX, POTX}
    | {
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.ms-outlook",
        "application/x-ole-storage",
        "application/cdfv2",
        "application/rtf",
        "text/rtf",
        ENCRYPTED_OFFICE,
    }
)
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-ndjson"})

# text files that Windows (WSH, cmd, PowerShell, mshta) or a Unix shell runs, by extension
_SCRIPT_EXTENSIONS = frozenset(
    {
        "sh", "bash", "zsh", "ksh", "csh", "command",
        "bat", "cmd", "ps1", "psm1",
        "vbs", "vbe", "js", "jse", "wsf", "wsh", "wsc", "sct", "hta",
    }
)  # fmt: skip

# --- what an extension claims -------------------------------------------------------------

_ZIP_FAMILY = (
    frozenset(
        {
            "application/zip",
            "application/java-archive",
            "application/vnd.android.package-archive",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.oasis.opendocument.graphics",
            PPTX,
            PPSX,
            POTX,
        }
    )
    | WORD_TYPES
    | EXCEL_TYPES
    | MACRO_ENABLED_TYPES
)
_OLE = frozenset({"application/x-ole-storage", "application/cdfv2"})
_TEXTUAL = frozenset({"text/*", "application/json", "application/xml"})


def _e(*types: str) -> frozenset[str]:
    return frozenset(types)


_CLAIMS: dict[str, frozenset[str]] = {
    "pdf": _e("application/pdf"),
    "jpg": _e("image/jpeg"),
    "jpeg": _e("image/jpeg"),
    "jpe": _e("image/jpeg"),
    "jfif": _e("image/jpeg"),
    "png": _e("image/png"),
    "gif": _e("image/gif"),
    "webp": _e("image/webp"),
    "bmp": _e("image/bmp", "image/x-ms-bmp"),
    "tif": _e("image/tiff"),
    "tiff": _e("image/tiff"),
    "heic": _e("image/heic", "image/heif"),
    "heif": _e("image/heic", "image/heif"),
    "ico": _e("image/vnd.microsoft.icon", "image/x-icon"),
    "svg": _e("image/svg+xml") | _TEXTUAL,
    # a password-protected Office file is an OLE2 container whatever its extension
    "docx": _e(DOCX, ENCRYPTED_OFFICE),
    "dotx": _e(DOTX, ENCRYPTED_OFFICE),
    "docm": _e(DOCM, ENCRYPTED_OFFICE),
    "xlsx": _e(XLSX, ENCRYPTED_OFFICE),
    "xltx": _e(XLTX, ENCRYPTED_OFFICE),
    "xlsm": _e(XLSM, ENCRYPTED_OFFICE),
    "pptx": _e(PPTX, ENCRYPTED_OFFICE),
    "ppsx": _e(PPSX, ENCRYPTED_OFFICE),
    "pptm": _e(PPTM, ENCRYPTED_OFFICE),
    "doc": _e("application/msword", ENCRYPTED_OFFICE) | _OLE,
    "xls": _e("application/vnd.ms-excel", ENCRYPTED_OFFICE) | _OLE,
    "ppt": _e("application/vnd.ms-powerpoint", ENCRYPTED_OFFICE) | _OLE,
    "msg": _e("application/vnd.ms-outlook") | _OLE,
    "msi": _e("application/x-msi") | _OLE,
    "odt": _e("application/vnd.oasis.opendocument.text"),
    "ods": _e("application/vnd.oasis.opendocument.spreadsheet"),
    "odp": _e("application/vnd.oasis.opendocument.presentation"),
    "rtf": _e("application/rtf", "text/rtf"),
    "zip": _ZIP_FAMILY,
    "jar": _e("application/java-archive", "application/x-java-archive", "application/zip"),
    "apk": _e("application/vnd.android.package-archive", "application/zip"),
    "gz": _e("application/gzip", "application/x-gzip"),
    "tgz": _e("application/gzip", "application/x-gzip"),
    "tar": _e("application/x-tar"),
    "7z": _e("application/x-7z-compressed"),
    "rar": _e("application/x-rar", "application/vnd.rar"),
    "bz2": _e("application/x-bzip2"),
    "xz": _e("application/x-xz"),
    "iso": _e("application/x-iso9660-image"),
    "mp3": _e("audio/mpeg"),
    "wav": _e("audio/x-wav", "audio/wav", "audio/vnd.wave"),
    "flac": _e("audio/flac", "audio/x-flac"),
    "ogg": _e("audio/ogg", "video/ogg", "application/ogg"),
    "opus": _e("audio/ogg", "application/ogg"),
    "m4a": _e("audio/x-m4a", "audio/mp4", "video/mp4"),
    "mp4": _e("video/mp4", "audio/mp4", "audio/x-m4a"),
    "m4v": _e("video/mp4", "video/x-m4v"),
    "mov": _e("video/quicktime"),
    "webm": _e("video/webm", "audio/webm"),
    "mkv": _e("video/x-matroska"),
    "avi": _e("video/x-msvideo"),
    "exe": _e(
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
    ),
    "dll": _e("application/x-dosexec", "application/vnd.microsoft.portable-executable"),
    "lnk": _e("application/x-ms-shortcut"),
    "class": _e("application/x-java-applet"),
    "txt": _TEXTUAL,
    "text": _TEXTUAL,
    "md": _TEXTUAL,
    "log": _TEXTUAL,
    "csv": _TEXTUAL | {"application/csv"},
    "tsv": _TEXTUAL,
    "json": _TEXTUAL,
    "xml": _TEXTUAL,
    "html": _TEXTUAL,
    "htm": _TEXTUAL,
    "css": _TEXTUAL,
    "ics": _TEXTUAL,
    "vcf": _TEXTUAL,
    "eml": _TEXTUAL | {"message/rfc822"},
    "yaml": _TEXTUAL,
    "yml": _TEXTUAL,
    "py": _TEXTUAL,
}
for _ext in _SCRIPT_EXTENSIONS:
    _CLAIMS.setdefault(_ext, _TEXTUAL)


def _claims(claimed: frozenset[str], mime: str) -> bool:
    return mime in claimed or ("text/*" in claimed and mime.startswith("text/"))


# --- signatures that need no libmagic ---------------------------------------------------

_LNK = b"\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
# root storage CLSIDs (little-endian GUID layout) of Windows Installer databases: package
# {000C1084-...}, transform {000C1082-...} and patch {000C1086-...}
_MSI_CLSIDS = frozenset(
    uuid.UUID(f"000C10{b}-0000-0000-C000-000000000046").bytes_le for b in ("84", "82", "86")
)


def _is_pe(head: bytes) -> bool:
    if head[:2] != b"MZ" or len(head) < 0x40:
        return False
    (offset,) = struct.unpack_from("<I", head, 0x3C)
    return head[offset : offset + 4] == b"PE\x00\x00"


def _signature(head: bytes) -> str | None:
    """An executable's MIME type from exact magic numbers, or None. libmagic decides the
    rest; these are checked first so that no libmagic quirk lets a binary through."""
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in _MACHO:
        return "application/x-mach-binary"
    if head.startswith(_LNK):
        return "application/x-ms-shortcut"
    if _is_pe(head):
        return "application/vnd.microsoft.portable-executable"
    if head.startswith(_OLE_MAGIC) and _ole_root_clsid(head) in _MSI_CLSIDS:
        return "application/x-msi"
    return None


def _ole_root_entry(header: bytes) -> int | None:
    """Where an OLE2 compound file's root storage entry starts: the first entry of the
    first directory sector, so no FAT chain needs following."""
    if len(header) < 0x40 or not header.startswith(_OLE_MAGIC):
        return None
    shift: int = struct.unpack_from("<H", header, 0x1E)[0]
    first_dir: int = struct.unpack_from("<I", header, 0x30)[0]
    if shift not in (9, 12) or first_dir >= 0xFFFFFFFA:
        return None
    return (first_dir + 1) << shift


_CLSID_AT = 0x50


def _ole_root_clsid(data: bytes) -> bytes | None:
    start = _ole_root_entry(data)
    if start is None:
        return None
    clsid = data[start + _CLSID_AT : start + _CLSID_AT + 16]
    return clsid if len(clsid) == 16 else None


def _zip_names_in_head(head: bytes, limit: int = 64) -> list[str]:
    """Entry names from the local file headers inside ``head`` (stops at the first entry
    whose data runs past it, or that uses a data descriptor)."""
    names: list[str] = []
    pos = 0
    while len(names) < limit and head.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(head):
        flags, csize, nlen, xlen = struct.unpack_from("<H10xI4xHH", head, pos + 6)
        name = head[pos + 30 : pos + 30 + nlen]
        names.append(name.decode("utf-8" if flags & 0x800 else "cp437", "replace"))
        if flags & 0x08:
            break
        pos += 30 + nlen + xlen + csize
    return names


def _looks_like_jar(names: Iterable[str]) -> bool:
    return any(n.upper() == "META-INF/MANIFEST.MF" or n.endswith(".class") for n in names)


def _looks_like_apk(names: Iterable[str]) -> bool:
    found = set(names)
    return "AndroidManifest.xml" in found and "classes.dex" in found


# --- detection ---------------------------------------------------------------------------


def extension_of(name: str) -> str:
    """The last extension, lower case, without the dot ("" when there is none; a leading
    dot, as in ``.bashrc``, starts a name, not an extension)."""
    stem, dot, ext = name.strip().rpartition(".")
    return ext.lower() if dot and stem else ""


def _kind(mime: str) -> Kind:
    if mime in _EXECUTABLE_TYPES:
        return Kind.EXECUTABLE
    if mime in _SCRIPT_TYPES:
        return Kind.SCRIPT
    if mime == "application/pdf":
        return Kind.PDF
    if mime in _OFFICE_TYPES or mime.startswith("application/vnd.oasis.opendocument."):
        return Kind.OFFICE
    if mime in _ARCHIVE_TYPES:
        return Kind.ARCHIVE
    if mime.startswith("image/"):
        return Kind.IMAGE
    if mime.startswith("audio/"):
        return Kind.AUDIO
    if mime.startswith("video/"):
        return Kind.VIDEO
    if mime.startswith("text/") or mime in _TEXT_TYPES:
        return Kind.TEXT
    return Kind.OTHER


def _classify(mime: str, ext: str, head: bytes, *, macros: bool = False) -> Detected:
    mime = mime.lower()
    if mime in ("application/x-empty", "inode/x-empty"):
        # nothing to contradict and nothing to run
        return Detected("application/x-empty", Kind.OTHER, False, False, False, ext)
    kind = _kind(mime)
    executable = kind is Kind.EXECUTABLE
    textual = kind in (Kind.TEXT, Kind.SCRIPT)
    if textual and head.removeprefix(b"\xef\xbb\xbf").startswith(b"#!"):
        kind, executable = Kind.SCRIPT, True
    elif textual and ext in _SCRIPT_EXTENSIONS:
        # the content is text, so the extension decides what Windows or a shell does
        # with it on a double-click: run it
        kind, executable = Kind.SCRIPT, True
    elif mime in _RUNNABLE_SCRIPT_TYPES:
        executable = True
    claimed = _CLAIMS.get(ext)
    mismatch = claimed is not None and not _claims(claimed, mime)
    macros = macros or mime in MACRO_ENABLED_TYPES
    return Detected(mime, kind, executable, mismatch, macros, ext)


def _libmagic(head: bytes) -> str:
    if not head:
        return "application/x-empty"
    return str(magic.from_buffer(head, mime=True))


def detect(head: bytes, name: str) -> Detected:
    """Detect from the first bytes (``HEAD_SIZE`` are enough; more are ignored) and the
    client's name (a hint only: see the module docstring). Zip-based formats: see
    ``detect_full``."""
    head = head[:HEAD_SIZE]
    ext = extension_of(name)
    mime = _libmagic(head)
    signature = _signature(head)
    if signature is not None and _kind(mime) is not Kind.EXECUTABLE:
        mime = signature
    if head.startswith(b"PK\x03\x04"):
        names = _zip_names_in_head(head)
        if _looks_like_apk(names):
            mime = "application/vnd.android.package-archive"
        elif _looks_like_jar(names):
            mime = "application/java-archive"
    return _classify(mime, ext, head)


Source = bytes | IO[bytes]


def detect_full(source: Source, name: str, *, max_entries: int = 10_000) -> Detected:
    """Detect from the whole file: ``source`` is the bytes or a seekable binary file
    (a spooled upload), read only as far as needed. Zips are opened (central directory and
    ``[Content_Types].xml``, capped); a zip that is also a jar is a jar. OLE2 files are
    checked for an installer CLSID wherever their directory is. Any other file with a jar
    appended is a jar. A zip that cannot be opened is reported as libmagic sees it; what
    the head shows as executable is never downgraded."""
    stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    head = stream.read(HEAD_SIZE)
    found = detect(head, name)
    if found.executable:
        return found  # never downgraded
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        refined = _zip_type(stream, max_entries=max_entries)
        if refined is None:
            return found
        mime, macros = refined
        return _classify(mime, found.extension, head, macros=macros)
    if head.startswith(_OLE_MAGIC):
        start = _ole_root_entry(head)
        if start is not None:
            stream.seek(start + _CLSID_AT)
            if stream.read(16) in _MSI_CLSIDS:
                return _classify("application/x-msi", found.extension, head)
        return found
    # a zip directory at the end of something else: Java runs a GIF with a jar appended
    # (a "GIFAR") as the jar
    appended = _zip_type(stream, max_entries=max_entries)
    if appended is not None and appended[0] in _EXECUTABLE_TYPES:
        return _classify(appended[0], found.extension, head)
    return found


def _zip_type(stream: IO[bytes], *, max_entries: int) -> tuple[str, bool] | None:
    """(MIME type, has VBA) of a zip from its entries; None if it is not a readable zip."""
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                return "application/zip", False
            names = [i.filename for i in infos]
            vba = any(n.lower().endswith("vbaproject.bin") for n in names)
            # what runs wins: a docx that is also a jar is a jar to Java
            if _looks_like_apk(names):
                return "application/vnd.android.package-archive", False
            if _looks_like_jar(names):
                return "application/java-archive", False
            if "[Content_Types].xml" in names:
                main = _ooxml_main_type(zf)
                if main is not None:
                    return main, vba
            if "mimetype" in names:
                odf = _odf_type(zf)
                if odf is not None:
                    return odf, vba
            return "application/zip", vba
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return None


_MAX_CONTENT_TYPES = 1 << 20
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def _ooxml_main_type(zf: zipfile.ZipFile) -> str | None:
    info = zf.getinfo("[Content_Types].xml")
    if info.file_size > _MAX_CONTENT_TYPES:
        return None
    raw = zf.read(info)
    # OPC forbids DTDs in package XML; without one there are no entities to expand
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        return None
    try:
        root = ElementTree.fromstring(raw)  # noqa: S314 - no DTD: nothing to expand or fetch
    except ElementTree.ParseError:
        return None
    for el in root.iter(_CT_NS + "Override"):
        mime = _MAIN_PARTS.get(el.get("ContentType", "").lower())
        if mime is not None:
            return mime
    return None


_ODF_MIME = re.compile(rb"application/vnd\.oasis\.opendocument\.[a-z.-]{1,60}")


def _odf_type(zf: zipfile.ZipFile) -> str | None:
    info = zf.getinfo("mimetype")
    if info.file_size > 200:
        return None
    raw = zf.read(info).strip()
    return raw.decode("ascii") if _ODF_MIME.fullmatch(raw) else None


# --- declared types and policy -----------------------------------------------------------

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "audio/wav": "audio/x-wav",
    "audio/vnd.wave": "audio/x-wav",
    "application/x-gzip": "application/gzip",
}


def declared_type_matches(detected: Detected, declared: str | None) -> bool:
    """Whether the client's ``Content-Type`` agrees with the content. No claim (absent,
    empty, ``application/octet-stream``) agrees with anything; any text type agrees with
    text; a zip or OLE2 container agrees with the formats built on it."""
    if not declared:
        return True
    claim = declared.split(";", 1)[0].strip().lower()
    claim = _ALIASES.get(claim, claim)
    mime = _ALIASES.get(detected.mime, detected.mime)
    if claim in ("", "application/octet-stream", "binary/octet-stream", mime):
        return True
    textual_claim = claim.startswith("text/") or claim in _TEXTUAL
    if detected.kind in (Kind.TEXT, Kind.SCRIPT) and textual_claim:
        return True
    if mime == "application/zip" and claim in _ZIP_FAMILY:
        return True
    if mime in _OLE and claim in _OFFICE_TYPES | {"application/x-msi"}:
        return True
    return mime == "application/x-empty"


DENY_BY_DEFAULT: frozenset[str] = frozenset({"executable"})
"""Refused whatever the tenant's policy says, unless the policy replaces this list:
everything that runs when opened (see ``Detected.executable``)."""


def blocked(detected: Detected, policy_denylist: Iterable[str]) -> str | None:
    """Why the deny-list refuses this content (a short phrase naming what it is), or None.
    Entries (case-insensitive): ``executable`` (the ``executable`` flag: binaries and
    runnable scripts alike), ``mismatch`` (the extension lies), ``macros`` (Office files
    with a VBA project), a kind (``script``, ``archive``, ``video`` ...), a MIME type, or
    ``type/*``."""
    for raw in policy_denylist:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "executable" and detected.executable:
            return f"executable content ({detected.mime})"
        if entry == "mismatch" and detected.mismatch:
            return (
                f"the extension .{detected.extension} does not match the content ({detected.mime})"
            )
        if entry == "macros" and detected.macros:
            return f"an Office file with macros ({detected.mime})"
        if entry == detected.kind.value:
            return f"content of kind {detected.kind.value} ({detected.mime})"
        if entry == detected.mime or (
            entry.endswith("/*") and detected.mime.startswith(entry[:-1])
        ):
            return f"content of type {detected.mime}"
    return None


# --- names -------------------------------------------------------------------------------


class BadFileName(ValueError):
    """A file name from a client that cannot be accepted; the message says why."""


_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{p}{n}" for p in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]}
)


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI


def clean_name(name: str) -> str:
    """A client's file name made safe to store and show, or ``BadFileName``: surrounding
    whitespace stripped and Unicode NFC applied; refused when empty, ``.`` or ``..``, with a
    path separator, a control or bidi-override character, a trailing dot or space, a
    Windows reserved device name (``CON``, ``NUL``, ``COM1``, ``LPT1`` ... with any
    extension), or more than 255 bytes in UTF-8."""
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned:
        raise BadFileName("the file name is empty")
    if cleaned in (".", ".."):
        raise BadFileName(f"{cleaned!r} is not a file name")
    for ch in cleaned:
        if ch in "/\\":
            raise BadFileName(f"the file name contains a path separator ({ch!r})")
        if _is_control(ch):
            raise BadFileName(
                f"the file name contains a control or bidi character (U+{ord(ch):04X})"
            )
    if cleaned[-1] in ". ":
        raise BadFileName("the file name ends with a dot or a space")
    stem = cleaned.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        raise BadFileName(f"{stem} is a reserved device name on Windows")
    size = len(cleaned.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise BadFileName(
            f"the file name is {size} bytes in UTF-8; at most {MAX_NAME_BYTES} are allowed"
        )
    return cleaned
