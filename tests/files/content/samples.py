"""Sample files for the content tests, all made here: nothing is downloaded or shipped."""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
import zlib

from PIL import Image


def image(fmt: str, size: tuple[int, int] = (40, 20), color: str = "red", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def two_colour_jpeg_with_gps(size: tuple[int, int] = (200, 100)) -> bytes:
    """Left half red, right half blue; EXIF with GPS, a camera model and orientation 6
    (shown rotated 90 degrees clockwise: red on top, blue below)."""
    im = Image.new("RGB", size, "red")
    im.paste(Image.new("RGB", (size[0] // 2, size[1]), "blue"), (size[0] // 2, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x0110] = "SecretCam 3000"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 5.0, 23.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 42.0)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels, with a few bytes of data:
    a decompression bomb as far as any decoder that trusts the header knows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(pages: list[list[str]], size: tuple[int, int] = (595, 842)) -> bytes:
    """A PDF written by hand: one page per list, each line in Helvetica."""
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
            + f"] /Count {count} >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", f"72 {size[1] - 72} Td"]
        ops += [f"({_pdf_escape(line)}) Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252")
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
            ).encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def encrypted_pdf(source: bytes, *, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(source)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx() -> bytes:
    from docx import Document

    doc = Document()
    doc.sections[0].header.paragraphs[0].text = "Vertrouwelijk: afdeling Zorg"
    doc.add_paragraph("Verslag van het overleg")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Naam"
    table.cell(0, 1).text = "BSN"
    table.cell(1, 0).text = "Jan de Vries"
    table.cell(1, 1).text = "123456782"
    doc.add_paragraph("Einde van het verslag")
    doc.sections[0].footer.paragraphs[0].text = "Pagina-voet"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def encrypted_office(source: bytes, password: str) -> bytes:
    """An Office file protected with ``password`` (msoffcrypto-tool, which oletools brings)."""
    import pytest

    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(source)).encrypt(password, out)
    return out.getvalue()


def xlsx() -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    wb = Workbook()
    ws = wb.active
    ws.title = "Begroting"
    ws.append(["Post", "Bedrag"])
    ws.append(["Huur", 1200])
    ws.append(["Koffie", 35.5])
    ws["C1"] = "=SUM(B2:B3)"
    second = wb.create_sheet("Leeg")
    second["A1"] = None
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rezip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    order: list[str] | None = None,
) -> bytes:
    """The zip ``data`` with parts replaced or added, optionally in another entry order."""
    replace = replace or {}
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    parts.update(replace)
    parts.update(add or {})
    names = order + [n for n in parts if n not in order] if order else list(parts)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in names:
            dst.writestr(name, parts[name])
    return out.getvalue()


def read_part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in entries.items():
            z.writestr(name, body)
    return out.getvalue()


def docx_with_huge_document(expanded: int) -> bytes:
    """A docx whose word/document.xml expands to ``expanded`` bytes (mostly spaces, a few
    hundred kilobytes compressed)."""
    base = docx()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst,
    ):
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, src.read(info))
                continue
            body = src.read(info)
            target = zipfile.ZipInfo("word/document.xml")
            target.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(target, "w", force_zip64=True) as part:
                part.write(body[:-1])
                chunk = b" " * (1 << 20)
                left = expanded - len(body)
                while left > 0:
                    part.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
                part.write(body[-1:])
    return out.getvalue()


def lie_about_size(data: bytes, name: str, declared: int) -> bytes:
    """The zip ``data`` with the entry ``name`` declaring ``declared`` expanded bytes in
    its local header and in the central directory."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        nlen, xlen, clen = struct.unpack_from("<HHH", out, pos + 28)
        if out[pos + 46 : pos + 46 + nlen] == name.encode():
            (local,) = struct.unpack_from("<I", out, pos + 42)
            struct.pack_into("<I", out, pos + 24, declared)
            struct.pack_into("<I", out, local + 22, declared)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 46 + nlen + xlen + clen)
    raise KeyError(name)


# --- executables ------------------------------------------------------------------------


def pe() -> bytes:
    dos = bytearray(b"MZ" + b"\x00" * 62)
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack("<4sHHIIIHH", b"PE\x00\x00", 0x8664, 1, 0, 0, 0, 0xF0, 0x22)
    return bytes(dos) + coff + b"\x00" * 400


def elf() -> bytes:
    ident = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + b"\x00" * 200


def macho() -> bytes:
    return b"\xcf\xfa\xed\xfe" + struct.pack("<IIIIII", 0x01000007, 3, 2, 0, 0, 0) + b"\x00" * 100


def java_class() -> bytes:
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 100


def lnk() -> bytes:
    header = bytearray(76)
    header[0:20] = (
        b"\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
    )
    return bytes(header) + b"\x00" * 40


def jar() -> bytes:
    return zip_of(
        {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nMain-Class: A\n", "A.class": java_class()}
    )


def compound_file(clsid: uuid.UUID, directory_sector: int = 1) -> bytes:
    """An empty OLE2 compound file (header, one FAT sector, one directory sector at
    ``directory_sector``, unused sectors between) whose root storage has ``clsid``: what
    Windows Installer databases carry."""
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIII", header, 0x2C, 1, directory_sector, 0, 4096)
    struct.pack_into("<IIII", header, 0x3C, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<I", header, 0x4C, 0)
    for i in range(1, 109):
        struct.pack_into("<I", header, 0x4C + 4 * i, 0xFFFFFFFF)
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    name = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    directory[0 : len(name)] = name
    struct.pack_into("<HBB", directory, 0x40, len(name), 5, 1)
    struct.pack_into("<III", directory, 0x44, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    directory[0x50:0x60] = clsid.bytes_le
    struct.pack_into("<I", directory, 0x74, 0xFFFFFFFE)
    for k in range(1, 4):
        struct.pack_into("<III", directory, 128 * k + 0x44, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    unused = bytes(512 * (directory_sector - 1))
    return bytes(header + fat + unused + directory)


MSI_CLSID = uuid.UUID("000C1084-0000-0000-C000-000000000046")
WORD97_CLSID = uuid.UUID("00020906-0000-0000-C000-000000000046")

SHELL_SCRIPT = b'#!/bin/sh\nrm -rf "$HOME/tmp"\necho klaar\n'
POWERSHELL = b"Get-ChildItem -Recurse | Remove-Item\r\nWrite-Host 'klaar'\r\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>\n"
)
