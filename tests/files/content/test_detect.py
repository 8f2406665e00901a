"""Detection by content: lying names, executables, containers, declared types, policy."""

from __future__ import annotations

import io

import pytest

from overleg.files.content import (
    DENY_BY_DEFAULT,
    DOCM,
    DOCX,
    XLSX,
    Detected,
    Kind,
    blocked,
    declared_type_matches,
    detect,
    detect_full,
    extension_of,
)
from tests.files.content import samples

EXECUTABLES = [
    pytest.param(samples.pe(), "setup.exe", id="pe"),
    pytest.param(samples.elf(), "tool", id="elf"),
    pytest.param(samples.macho(), "App", id="mach-o"),
    pytest.param(samples.java_class(), "Main.class", id="java-class"),
    pytest.param(samples.lnk(), "invoice.pdf.lnk", id="lnk"),
    pytest.param(samples.compound_file(samples.MSI_CLSID), "setup.msi", id="msi"),
    pytest.param(samples.jar(), "app.jar", id="jar"),
]


@pytest.mark.parametrize(("data", "name"), EXECUTABLES)
def test_executables_are_detected_by_content(data: bytes, name: str) -> None:
    for found in (detect(data, name), detect_full(data, name)):
        assert found.executable
        assert found.kind is Kind.EXECUTABLE
        assert not found.mismatch, found.mime
        assert blocked(found, DENY_BY_DEFAULT) == f"executable content ({found.mime})"


@pytest.mark.parametrize(("data", "name"), EXECUTABLES)
def test_an_innocent_name_does_not_hide_an_executable(data: bytes, name: str) -> None:
    for innocent in ("report.pdf", "photo.jpg", "notes.txt", "budget.xlsx", "no-extension"):
        found = detect_full(data, innocent)
        assert found.executable, innocent
        assert found.mismatch is (innocent != "no-extension")
        assert blocked(found, DENY_BY_DEFAULT) is not None


def test_pe_named_pdf() -> None:
    found = detect(samples.pe(), "report.pdf")
    assert found.mime == "application/vnd.microsoft.portable-executable"
    assert (found.kind, found.executable, found.mismatch) == (Kind.EXECUTABLE, True, True)
    assert found.extension == "pdf"


def test_html_named_jpg_is_text_and_a_mismatch() -> None:
    found = detect(samples.HTML, "photo.jpg")
    assert found.mime == "text/html"
    assert (found.kind, found.executable, found.mismatch) == (Kind.TEXT, False, True)
    assert blocked(found, DENY_BY_DEFAULT) is None
    assert blocked(found, ["mismatch"]) == (
        "the extension .jpg does not match the content (text/html)"
    )


def test_an_ole2_file_that_is_not_an_installer_is_an_office_file() -> None:
    word = samples.compound_file(samples.WORD97_CLSID)
    found = detect_full(word, "brief.doc")
    assert found.kind is Kind.OFFICE
    assert not found.executable
    assert not found.mismatch
    assert detect_full(samples.compound_file(samples.MSI_CLSID), "brief.doc").mismatch


@pytest.mark.parametrize("name", ["run.sh", "run.txt", "run", "RUN.TXT", "installer.command"])
def test_a_shebang_makes_a_script_executable_whatever_the_name(name: str) -> None:
    found = detect(samples.SHELL_SCRIPT, name)
    assert (found.kind, found.executable) == (Kind.SCRIPT, True)
    assert found.mime == "text/x-shellscript"
    assert not found.mismatch  # a shell script is text, as .txt claims


@pytest.mark.parametrize(
    "name", ["clean.ps1", "clean.PS1", "clean.vbs", "clean.js", "clean.bat", "clean.hta"]
)
def test_text_with_a_script_extension_is_an_executable_script(name: str) -> None:
    found = detect(samples.POWERSHELL, name)
    assert found.mime == "text/plain"
    assert (found.kind, found.executable, found.mismatch) == (Kind.SCRIPT, True, False)
    assert blocked(found, DENY_BY_DEFAULT) == "executable content (text/plain)"


def test_the_same_text_with_a_text_extension_is_text() -> None:
    found = detect(samples.POWERSHELL, "clean.txt")
    assert (found.kind, found.executable, found.mismatch) == (Kind.TEXT, False, False)
    assert blocked(found, DENY_BY_DEFAULT) is None


def test_a_script_extension_does_not_make_binary_content_executable() -> None:
    found = detect(samples.image("PNG"), "clean.ps1")
    assert (found.mime, found.kind, found.executable, found.mismatch) == (
        "image/png",
        Kind.IMAGE,
        False,
        True,
    )


def test_batch_file_by_content() -> None:
    found = detect(b"@echo off\r\ndel /q *.*\r\n", "opruimen.txt")
    assert found.mime == "text/x-msdos-batch"
    assert (found.kind, found.executable) == (Kind.SCRIPT, True)


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [
        ("PNG", "a.png", "image/png"),
        ("JPEG", "a.JPG", "image/jpeg"),
        ("GIF", "a.gif", "image/gif"),
        ("WEBP", "a.webp", "image/webp"),
        ("BMP", "a.bmp", "image/bmp"),
        ("TIFF", "a.tiff", "image/tiff"),
    ],
)
def test_images(fmt: str, name: str, mime: str) -> None:
    found = detect(samples.image(fmt), name)
    assert found == Detected(mime, Kind.IMAGE, False, False, False, name.rsplit(".")[1].lower())
    assert detect(samples.image(fmt), "a.pdf").mismatch


def test_svg_is_an_image() -> None:
    found = detect(samples.SVG, "logo.svg")
    assert (found.mime, found.kind, found.mismatch) == ("image/svg+xml", Kind.IMAGE, False)


def test_pdf() -> None:
    found = detect(samples.pdf([["x"]]), "x.pdf")
    assert (found.mime, found.kind, found.mismatch) == ("application/pdf", Kind.PDF, False)
    assert detect(samples.pdf([["x"]]), "x.docx").mismatch


def test_empty_file_claims_nothing() -> None:
    found = detect(b"", "leeg.pdf")
    assert (found.mime, found.kind, found.executable, found.mismatch) == (
        "application/x-empty",
        Kind.OTHER,
        False,
        False,
    )


# --- zip containers -----------------------------------------------------------------------


def test_docx_and_xlsx() -> None:
    docx = detect_full(samples.docx(), "verslag.docx")
    assert (docx.mime, docx.kind, docx.mismatch, docx.macros) == (DOCX, Kind.OFFICE, False, False)
    xlsx = detect_full(samples.xlsx(), "begroting.xlsx")
    assert (xlsx.mime, xlsx.kind, xlsx.mismatch) == (XLSX, Kind.OFFICE, False)
    assert detect_full(samples.xlsx(), "begroting.docx").mismatch


def test_a_plain_zip_named_docx_is_an_archive_and_a_mismatch() -> None:
    fake = samples.zip_of({"readme.txt": b"hallo", "word/document.xml": b"<x/>"})
    for found in (detect(fake, "verslag.docx"), detect_full(fake, "verslag.docx")):
        assert (found.mime, found.kind, found.executable, found.mismatch) == (
            "application/zip",
            Kind.ARCHIVE,
            False,
            True,
        )
    assert blocked(detect_full(fake, "verslag.docx"), ["archive"]) == (
        "content of kind archive (application/zip)"
    )


def test_detect_full_is_not_fooled_by_a_word_folder_first() -> None:
    # libmagic takes a zip whose first entry is in word/ for a docx; without the
    # package's [Content_Types].xml it is a plain zip
    fake = samples.zip_of({"word/document.xml": b"<x/>", "readme.txt": b"hallo"})
    assert detect(fake, "verslag.docx").mime == DOCX
    found = detect_full(fake, "verslag.docx")
    assert (found.mime, found.kind, found.mismatch) == ("application/zip", Kind.ARCHIVE, True)


def test_detect_full_reads_the_content_types_when_the_head_cannot_tell() -> None:
    # the same docx with [Content_Types].xml last: libmagic's look at the first entries
    # can no longer tell it from a zip; the central directory still can
    reordered = samples.rezip(samples.docx(), order=["docProps/core.xml", "word/styles.xml"])
    assert detect(reordered, "verslag.docx").mime == "application/zip"
    assert detect_full(reordered, "verslag.docx").mime == DOCX
    assert not detect_full(reordered, "verslag.docx").mismatch


def test_macro_enabled_word_renamed_to_docx() -> None:
    base = samples.docx()
    with __import__("zipfile").ZipFile(io.BytesIO(base)) as z:
        types = z.read("[Content_Types].xml")
    docm = samples.rezip(
        base,
        replace={
            "[Content_Types].xml": types.replace(
                b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                b"application/vnd.ms-word.document.macroEnabled.main+xml",
            )
        },
        add={"word/vbaProject.bin": samples.compound_file(samples.WORD97_CLSID)},
    )
    found = detect_full(docm, "factuur.docx")
    assert (found.mime, found.kind, found.macros, found.mismatch) == (
        DOCM,
        Kind.OFFICE,
        True,
        True,
    )
    assert not found.executable
    assert blocked(found, DENY_BY_DEFAULT) is None
    assert blocked(found, ["macros"]) == f"an Office file with macros ({DOCM})"
    assert not detect_full(docm, "factuur.docm").mismatch


def test_content_types_with_a_dtd_are_not_trusted() -> None:
    evil = samples.zip_of(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]>'
            b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Override PartName="/word/document.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
            "word/document.xml": b"<x/>",
        }
    )
    assert detect_full(evil, "a.docx").mime == "application/zip"


def test_detect_full_takes_a_file() -> None:
    stream = io.BytesIO(samples.docx())
    stream.seek(100)
    assert detect_full(stream, "verslag.docx").mime == DOCX


def test_a_jar_is_executable_even_named_zip() -> None:
    for found in (detect(samples.jar(), "bundle.zip"), detect_full(samples.jar(), "bundle.zip")):
        assert (found.mime, found.executable, found.mismatch) == (
            "application/java-archive",
            True,
            False,
        )


def test_an_msi_whose_directory_is_past_the_head() -> None:
    msi = samples.compound_file(samples.MSI_CLSID, directory_sector=40)
    assert len(msi) > 8 * 1024
    assert not detect(msi, "setup.msi").executable  # the head cannot show it
    found = detect_full(msi, "setup.msi")
    assert (found.mime, found.executable) == ("application/x-msi", True)
    assert not detect_full(samples.compound_file(samples.WORD97_CLSID, 40), "a.doc").executable


def test_a_jar_appended_to_an_image_is_a_jar() -> None:
    gifar = samples.image("GIF") + samples.jar()
    assert detect(gifar, "cat.gif").mime == "image/gif"
    found = detect_full(gifar, "cat.gif")
    assert (found.mime, found.executable, found.mismatch) == (
        "application/java-archive",
        True,
        True,
    )
    # an image with no zip behind it stays an image
    assert detect_full(samples.image("GIF"), "cat.gif").mime == "image/gif"


def test_a_docx_that_is_also_a_jar_is_a_jar() -> None:
    polyglot = samples.rezip(
        samples.docx(),
        add={"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "A.class": samples.java_class()},
    )
    found = detect_full(polyglot, "verslag.docx")
    assert (found.mime, found.executable) == ("application/java-archive", True)
    assert blocked(found, DENY_BY_DEFAULT) is not None


def test_an_odf_document() -> None:
    odt = samples.zip_of(
        {
            "mimetype": b"application/vnd.oasis.opendocument.text",
            "META-INF/manifest.xml": b"<manifest/>",
            "content.xml": b"<office:document-content/>",
        }
    )
    found = detect_full(odt, "brief.odt")
    assert (found.mime, found.kind, found.executable, found.mismatch) == (
        "application/vnd.oasis.opendocument.text",
        Kind.OFFICE,
        False,
        False,
    )


def test_a_corrupt_zip_stays_what_libmagic_says() -> None:
    broken = samples.docx()[:3000]
    found = detect_full(broken, "verslag.docx")
    assert not found.executable
    assert found.kind in (Kind.OFFICE, Kind.ARCHIVE)


# --- declared types, policy, extensions -----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "matches"),
    [
        (samples.pe(), "image/png", False),
        (samples.pe(), "application/pdf", False),
        (samples.pe(), "application/octet-stream", True),
        (samples.pe(), None, True),
        (samples.image("PNG"), "image/png", True),
        (samples.image("JPEG"), "image/jpg", True),
        (samples.image("JPEG"), "image/png", False),
        (samples.HTML, "image/jpeg", False),
        (samples.HTML, "text/plain; charset=utf-8", True),
        (samples.pdf([["x"]]), "application/x-pdf", True),
        (samples.zip_of({"a": b"b"}), DOCX, True),  # a zip may be a docx: detect_full decides
    ],
)
def test_declared_type(data: bytes, declared: str | None, matches: bool) -> None:
    assert declared_type_matches(detect(data, "x"), declared) is matches


def test_blocked_by_kind_mime_and_wildcard() -> None:
    png = detect(samples.image("PNG"), "a.png")
    assert blocked(png, []) is None
    assert blocked(png, DENY_BY_DEFAULT) is None
    assert blocked(png, ["video", "archive"]) is None
    assert blocked(png, ["Image"]) == "content of kind image (image/png)"
    assert blocked(png, ["image/png"]) == "content of type image/png"
    assert blocked(png, [" image/* "]) == "content of type image/png"
    assert blocked(png, ["image/jpeg", "text/*", ""]) is None


def test_blocked_script_kind_covers_scripts_that_are_not_executable() -> None:
    module = detect(b"import os\n\ndef main():\n    print(os.getcwd())\n", "tool.py")
    assert module.kind is Kind.SCRIPT
    assert not module.executable
    assert blocked(module, DENY_BY_DEFAULT) is None
    assert blocked(module, ["script"]) == f"content of kind script ({module.mime})"


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.PDF", "pdf"),
        ("archive.tar.gz", "gz"),
        (".bashrc", ""),
        ("README", ""),
        ("trailing.", ""),
        ("  spaced.txt  ", "txt"),
    ],
)
def test_extension_of(name: str, ext: str) -> None:
    assert extension_of(name) == ext
