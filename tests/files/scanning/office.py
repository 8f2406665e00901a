"""Macro-enabled Office files built in memory, offline, for the macro tests.

A real ``vbaProject.bin`` (an MS-CFB v3 compound file with PROJECT, VBA/_VBA_PROJECT,
VBA/dir and one stream per module; the MS-OVBA "compression" uses raw and literal-only
chunks) inside a minimal .docm / .xlsm / .docx zip. It only has to satisfy oletools
(olevba, mraptor), not Office itself.
"""

from __future__ import annotations

import io
import itertools
import struct
import zipfile

END, FREE, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"

#: auto-executing and writing/executing: what mraptor calls SUSPICIOUS (flags AWX)
AUTOOPEN_SHELL = (
    "Sub AutoOpen()\n"
    "    Dim r\n"
    '    r = Shell("cmd.exe /c echo hi", 0)\n'
    '    Open "C:\\x.txt" For Output As #1\n'
    '    Print #1, "x"\n'
    "    Close #1\n"
    "End Sub\n"
)
WORKBOOK_OPEN_SHELL = 'Sub Workbook_Open()\n    Shell "calc.exe"\nEnd Sub\n'
BENIGN = "Function Add(a, b)\n    Add = a + b\nEnd Function\n"


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


def ovba_compress(data: bytes) -> bytes:
    out = bytearray(b"\x01")
    i = 0
    while i < len(data):
        if len(data) - i >= 4096:  # an uncompressed chunk: exactly 4096 bytes
            out += struct.pack("<H", 0x3FFF) + data[i : i + 4096]
            i += 4096
        else:  # literal-only "compressed" chunks of at most 3640 bytes
            chunk = data[i : i + 3640]
            i += len(chunk)
            body = b"".join(b"\x00" + chunk[j : j + 8] for j in range(0, len(chunk), 8))
            out += struct.pack("<H", 0xB000 | (len(body) - 1)) + body
    return bytes(out)


def _rec(rid: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _dir_stream(modules: list[str]) -> bytes:
    b = (
        _rec(1, _u32(1))
        + _rec(2, _u32(0x409))
        + _rec(0x14, _u32(0x409))
        + _rec(3, struct.pack("<H", 1252))
        + _rec(4, b"VBAProject")
        + _rec(5)
        + _rec(0x40)
        + _rec(6)
        + _rec(0x3D)
        + _rec(7, _u32(0))
        + _rec(8, _u32(0))
        + struct.pack("<HIIH", 9, 4, 1, 0)
        + _rec(0x0C)
        + _rec(0x3C)
        + _rec(0x0F, struct.pack("<H", len(modules)))
        + _rec(0x13, struct.pack("<H", 0xFFFF))
    )
    for m in modules:
        a, w = m.encode("cp1252"), m.encode("utf-16-le")
        b += (
            _rec(0x19, a)
            + _rec(0x47, w)
            + _rec(0x1A, a)
            + _rec(0x32, w)
            + _rec(0x1C)
            + _rec(0x48)
            + _rec(0x31, _u32(0))
            + _rec(0x1E, _u32(0))
            + _rec(0x2C, struct.pack("<H", 0xFFFF))
            + struct.pack("<HI", 0x21, 0)  # a procedural module
            + struct.pack("<HI", 0x2B, 0)  # its terminator
        )
    return ovba_compress(b + struct.pack("<HI", 0x10, 0))


def cfb(streams: dict[str, bytes]) -> bytes:
    """{'PROJECT': bytes, 'VBA/dir': bytes, ...} -> compound file bytes."""
    ents: list[dict[str, object]] = [{"name": "Root Entry", "type": 5, "kids": [], "data": b""}]
    idx = {"": 0}
    for path, data in streams.items():
        parts = path.split("/")
        for d in range(1, len(parts) + 1):
            p = "/".join(parts[:d])
            if p not in idx:
                leaf = d == len(parts)
                ents.append(
                    {
                        "name": parts[d - 1],
                        "type": 2 if leaf else 1,
                        "kids": [],
                        "data": data if leaf else b"",
                    }
                )
                idx[p] = len(ents) - 1
                parent = ents[idx["/".join(parts[: d - 1])]]["kids"]
                assert isinstance(parent, list)
                parent.append(idx[p])

    def name_of(i: int) -> str:
        return str(ents[i]["name"])

    for e in ents:  # siblings as a right-leaning chain in CFB order (length, upper-case name)
        kids = e["kids"]
        assert isinstance(kids, list)
        kids = sorted(kids, key=lambda i: (len(name_of(i)), name_of(i).upper()))
        e["child"] = kids[0] if kids else NOSTREAM
        for a, b in itertools.pairwise(kids):
            ents[a]["right"] = b

    sectors: list[bytes] = []
    fat: list[int] = []
    mini = bytearray()
    minifat: list[int] = []

    def alloc(data: bytes, marker: int | None = None) -> int:
        n = -(-len(data) // 512)
        start = len(sectors) if n else END
        for k in range(n):
            sectors.append(data[k * 512 : (k + 1) * 512].ljust(512, b"\0"))
            fat.append(marker if marker is not None else (len(sectors) if k < n - 1 else END))
        return start

    def data_of(e: dict[str, object]) -> bytes:
        data = e["data"]
        assert isinstance(data, bytes)
        return data

    for e in ents:
        if e["type"] == 2 and 0 < len(data_of(e)) < 4096:
            n = -(-len(data_of(e)) // 64)
            e["start"] = len(mini) // 64
            minifat += [len(minifat) + k + 1 for k in range(n - 1)] + [END]
            mini += data_of(e).ljust(n * 64, b"\0")
    ents[0]["start"], ents[0]["size"] = alloc(bytes(mini)), len(mini)
    for e in ents:
        if e["type"] == 2 and len(data_of(e)) >= 4096:
            e["start"] = alloc(data_of(e))
    mf = b"".join(struct.pack("<I", x) for x in minifat + [FREE] * (-len(minifat) % 128))
    mf_start = alloc(mf) if minifat else END

    def dirent(e: dict[str, object]) -> bytes:
        name = str(e["name"]).encode("utf-16-le") + b"\0\0"
        kind, right, child = e["type"], e.get("right", NOSTREAM), e["child"]
        start, size = e.get("start", END), e.get("size", len(data_of(e)))
        assert isinstance(kind, int) and isinstance(right, int) and isinstance(child, int)
        assert isinstance(start, int) and isinstance(size, int)
        return (
            name.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(name), kind, 1, NOSTREAM, right, child)
            + b"\0" * 36
            + struct.pack("<IQ", start, size)
        )

    empty = b"\0" * 66 + b"\0\0" + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + b"\0" * 48
    dir_start = alloc(b"".join(map(dirent, ents)) + empty * (-len(ents) % 4))
    n_fat = 1
    while len(sectors) + n_fat > n_fat * 128:
        n_fat += 1
    fat_first = len(sectors)
    fat += [FATSECT] * n_fat
    fatb = b"".join(struct.pack("<I", x) for x in fat + [FREE] * (n_fat * 128 - len(fat)))
    sectors += [fatb[k * 512 : (k + 1) * 512] for k in range(n_fat)]
    difat = [fat_first + k for k in range(n_fat)] + [FREE] * (109 - n_fat)
    hdr = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<9I", 0, n_fat, dir_start, 0, 4096, mf_start, len(mf) // 512, END, 0)
        + struct.pack("<109I", *difat)
    )
    return hdr + b"".join(sectors)


def vba_project_bin(modules: dict[str, str]) -> bytes:
    project = (
        'ID="{00000000-0000-0000-0000-000000000000}"\r\n'
        + "".join(f"Module={m}\r\n" for m in modules)
        + 'Name="VBAProject"\r\nHelpContextID="0"\r\nVersionCompatible32="393222000"\r\n\r\n'
        "[Host Extender Info]\r\n"
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000\r\n"
    ).encode("cp1252")
    streams = {
        "PROJECT": project,
        "VBA/_VBA_PROJECT": bytes.fromhex("CC61FFFF000000"),
        "VBA/dir": _dir_stream(list(modules)),
    }
    for m, src in modules.items():
        text = f'Attribute VB_Name = "{m}"\n{src}'.replace("\r\n", "\n").replace("\n", "\r\n")
        streams[f"VBA/{m}"] = ovba_compress(text.encode("cp1252"))
    return cfb(streams)


def _package(parts: dict[str, str | bytes], main: str, content_type: str) -> bytes:
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
        f'<Override PartName="/{main}" ContentType="{content_type}"/></Types>'
    )
    rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{OFFICE_DOC}" Target="{main}"/></Relationships>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


def _vba_rels(folder: str, main: str) -> dict[str, str]:
    return {
        f"{folder}/_rels/{main}.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
            f'<Relationship Id="rId9" Type="{VBA_REL}" Target="vbaProject.bin"/></Relationships>'
        )
    }


_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><w:document '
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>test</w:t></w:r></w:p></w:body></w:document>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook '
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>'
)


def docm(modules: dict[str, str]) -> bytes:
    return _package(
        {
            "word/document.xml": _DOCUMENT,
            **_vba_rels("word", "document.xml"),
            "word/vbaProject.bin": vba_project_bin(modules),
        },
        "word/document.xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml",
    )


def xlsm(modules: dict[str, str]) -> bytes:
    return _package(
        {
            "xl/workbook.xml": _WORKBOOK,
            **_vba_rels("xl", "workbook.xml"),
            "xl/vbaProject.bin": vba_project_bin(modules),
        },
        "xl/workbook.xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )


def docx() -> bytes:
    """A plain Word document: no macros."""
    return _package(
        {"word/document.xml": _DOCUMENT},
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    )
