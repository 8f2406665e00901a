"""Text extraction: exact texts, caps, and hostile files that give errors, not exceptions."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from overleg.files.content import ENCRYPTED_OFFICE, Detected, Kind, detect, detect_full
from overleg.files.extract import (
    CORRUPTED,
    ENCRYPTED,
    TOO_LARGE,
    UNSAFE,
    Extracted,
    decode_text,
    extract_text,
)
from tests.files.content import samples


def _extract(data: bytes, name: str, **caps: int) -> Extracted:
    return extract_text(data, detect_full(data, name), **caps)


# --- text ---------------------------------------------------------------------------------

TEXT = "Overleg over één café: 5 € per persoon.\nTweede regel.\n"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16-be"),
        pytest.param(TEXT.encode("cp1252"), id="windows-1252"),
    ],
)
def test_text_in_each_encoding(encoded: bytes) -> None:
    assert _extract(encoded, "notes.txt") == Extracted(TEXT, False, None)


def test_latin1_fallback_for_bytes_windows_1252_leaves_undefined() -> None:
    # 0x81 is undefined in Windows-1252: Latin-1 decodes everything
    assert decode_text(b"caf\xe9 \x81") == "café \x81"


def test_a_utf8_sequence_cut_by_the_cap_is_dropped_not_misread() -> None:
    assert decode_text("één".encode()[:-1]) == "éé"


def test_text_is_capped() -> None:
    data = ("abcdefghij" * 1000).encode()
    result = _extract(data, "big.txt", max_chars=25)
    assert result == Extracted("abcdefghijabcdefghijabcde", True, None)
    assert _extract(data, "big.txt", max_chars=10_000) == Extracted(data.decode(), False, None)


def test_nul_characters_are_dropped() -> None:
    text = Detected("text/plain", Kind.TEXT, False, False)
    assert extract_text(b"a\x00b", text) == Extracted("ab", False, None)


def test_scripts_are_text_too() -> None:
    result = _extract(samples.SHELL_SCRIPT, "run.sh")
    assert result.text == samples.SHELL_SCRIPT.decode()


def test_types_without_text_give_nothing_and_no_error() -> None:
    assert _extract(samples.image("PNG"), "a.png") == Extracted("", False, None)
    assert _extract(samples.pe(), "a.exe") == Extracted("", False, None)


# --- PDF ----------------------------------------------------------------------------------

PAGES = [["Verslag van het overleg", "BSN 123456782 (vertrouwelijk)"], ["Pagina twee"]]
PDF_TEXT = "Verslag van het overleg\nBSN 123456782 (vertrouwelijk)\nPagina twee"


def test_pdf_text() -> None:
    assert _extract(samples.pdf(PAGES), "v.pdf") == Extracted(PDF_TEXT, False, None)


def test_pdf_pages_are_capped() -> None:
    result = _extract(samples.pdf(PAGES), "v.pdf", max_pages=1)
    assert result == Extracted("Verslag van het overleg\nBSN 123456782 (vertrouwelijk)", True, None)


def test_pdf_characters_are_capped() -> None:
    assert _extract(samples.pdf(PAGES), "v.pdf", max_chars=7) == Extracted("Verslag", True, None)


def test_encrypted_pdf_gives_an_error_and_no_text() -> None:
    locked = samples.encrypted_pdf(samples.pdf(PAGES), user_password="geheim")
    assert detect(locked, "v.pdf").mime == "application/pdf"
    assert _extract(locked, "v.pdf") == Extracted("", False, ENCRYPTED)


def test_pdf_encrypted_without_a_user_password_is_read() -> None:
    # opens in every viewer without a password, so DLP must see it
    restricted = samples.encrypted_pdf(samples.pdf(PAGES), user_password="")
    assert _extract(restricted, "v.pdf") == Extracted(PDF_TEXT, False, None)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_pdf_gives_an_error_not_an_exception(keep: float) -> None:
    whole = samples.pdf(PAGES)
    cut = whole[: int(len(whole) * keep)]
    assert detect(cut, "v.pdf").mime == "application/pdf"
    assert _extract(cut, "v.pdf") == Extracted("", False, CORRUPTED)


def test_garbage_behind_a_pdf_header_is_corrupted() -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 20
    assert detect(data, "x.pdf").mime == "application/pdf"
    assert _extract(data, "x.pdf") == Extracted("", False, CORRUPTED)


# --- Word -----------------------------------------------------------------------------------

DOCX_TEXT = "\n".join(
    [
        "Vertrouwelijk: afdeling Zorg",
        "Verslag van het overleg",
        "Naam",
        "BSN",
        "Jan de Vries",
        "123456782",
        "Einde van het verslag",
        "Pagina-voet",
    ]
)


def test_docx_text_with_header_table_and_footer() -> None:
    assert _extract(samples.docx(), "v.docx") == Extracted(DOCX_TEXT, False, None)


def test_docx_characters_are_capped() -> None:
    result = _extract(samples.docx(), "v.docx", max_chars=40)
    assert result == Extracted(DOCX_TEXT[:40], True, None)


def test_docx_huge_expansion_is_refused_before_parsing() -> None:
    bomb = samples.docx_with_huge_document(100 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    assert _extract(bomb, "v.docx") == Extracted("", False, TOO_LARGE)
    # the package's total counts too
    assert _extract(samples.docx(), "v.docx", max_expanded=10_000).error == TOO_LARGE


def test_a_zip_entry_lying_about_its_size_cannot_expand_past_it() -> None:
    # the directory declares 100 bytes for a 10 MB part: zipfile stops at 100 and the CRC
    # check fails, so the caps on declared sizes hold
    big = samples.rezip(
        samples.docx(), replace={"word/document.xml": b"<" + b" " * 10_000_000 + b"/>"}
    )
    liar = samples.lie_about_size(big, "word/document.xml", 100)
    assert _extract(liar, "v.docx") == Extracted("", False, CORRUPTED)


XXE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE w:document [<!ENTITY secret SYSTEM "file://{path}">]>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>leak: &secret;</w:t></w:r></w:p></w:body></w:document>"
)


def test_docx_with_an_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    evil = samples.rezip(
        samples.docx(), replace={"word/document.xml": XXE.format(path=secret).encode()}
    )
    result = _extract(evil, "v.docx")
    assert result.error == UNSAFE
    assert "TOPSECRET" not in result.text


def test_a_dtd_after_a_long_prolog_or_in_utf16_is_found() -> None:
    comment = "<!--" + "x" * 30_000 + "-->"  # past the first read, within the limit
    doctype = '<!DOCTYPE x [<!ENTITY a "aaaa">]>'
    for xml in (
        f'<?xml version="1.0"?>{comment}{doctype}<x>&a;</x>'.encode(),
        ("\ufeff" + f'<?xml version="1.0" encoding="UTF-16"?>{doctype}<x/>').encode("utf-16-le"),
        f'<?xml version="1.0" encoding="UTF-16"?>{doctype}<x/>'.encode("utf-16-be"),
    ):
        evil = samples.rezip(samples.docx(), replace={"word/styles.xml": xml})
        assert _extract(evil, "v.docx").error == UNSAFE


def test_a_prolog_too_long_to_check_is_refused_and_comments_are_not_dtds() -> None:
    long_prolog = f'<?xml version="1.0"?><!--{"x" * 70_000}--><x/>'.encode()
    evil = samples.rezip(samples.docx(), replace={"word/styles.xml": long_prolog})
    assert _extract(evil, "v.docx").error == UNSAFE
    # a comment whose "<!--" straddles the first read is still a comment
    decl = '<?xml version="1.0"?>'
    straddling = (decl + " " * (1022 - len(decl)) + "<!-- note --><x/>").encode()
    assert straddling.index(b"<!--") == 1022
    fine = samples.rezip(samples.docx(), replace={"word/styles.xml": straddling})
    assert _extract(fine, "v.docx") == Extracted(DOCX_TEXT, False, None)


def test_docx_text_boxes_are_read_once_and_hidden_tracked_deletions_are_read() -> None:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    wps = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
    document = (
        f'<w:document xmlns:w="{w}" xmlns:mc="{mc}" xmlns:wps="{wps}"><w:body>'
        '<w:p><w:r><w:t>Voor</w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps">'
        "<wps:txbx><w:txbxContent><w:p><w:r><w:t>In het kader</w:t></w:r></w:p>"
        "</w:txbxContent></wps:txbx></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p>"
        "<w:r><w:t>In het kader</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r><w:r><w:tab/><w:t>na</w:t></w:r></w:p>"
        "<w:p><w:del><w:r><w:delText>geschrapt</w:delText></w:r></w:del>"
        "<w:r><w:rPr><w:vanish/></w:rPr><w:t>verborgen</w:t></w:r></w:p>"
        "</w:body></w:document>"
    )
    doc = samples.rezip(samples.docx(), replace={"word/document.xml": document.encode()})
    result = _extract(doc, "v.docx")
    assert result.error is None
    assert result.text.split("\n")[1:-1] == ["Voor\tna", "In het kader", "geschraptverborgen"]


# --- Excel --------------------------------------------------------------------------------

XLSX_TEXT = "Begroting\nPost\tBedrag\nHuur\t1200\nKoffie\t35.5\nLeeg"


def test_xlsx_values_only_never_formulas() -> None:
    result = _extract(samples.xlsx(), "b.xlsx")
    assert result == Extracted(XLSX_TEXT, False, None)
    assert "SUM" not in result.text


def test_xlsx_cells_are_capped() -> None:
    result = _extract(samples.xlsx(), "b.xlsx", max_cells=6)
    assert result == Extracted("Begroting\nPost\tBedrag\nHuur\t1200", True, None)


def test_xlsx_with_a_billion_laughs_is_refused() -> None:
    xlsx = samples.xlsx()
    sheet = samples.read_part(xlsx, "xl/worksheets/sheet1.xml").decode()
    entities = "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    laughs = f'<!DOCTYPE worksheet [<!ENTITY a "hahahahaha">{entities}]>'
    evil = samples.rezip(
        xlsx,
        replace={
            "xl/worksheets/sheet1.xml": (
                laughs + sheet.replace("<t>Post</t>", "<t>&j;</t>")
            ).encode()
        },
    )
    result = _extract(evil, "b.xlsx")
    assert result == Extracted("", False, UNSAFE)


def test_password_protected_office_files_are_encrypted() -> None:
    for source, name in ((samples.docx(), "v.docx"), (samples.xlsx(), "b.xlsx")):
        locked = samples.encrypted_office(source, "geheim")
        found = detect_full(locked, name)
        assert (found.mime, found.kind, found.mismatch) == (ENCRYPTED_OFFICE, Kind.OFFICE, False)
        assert extract_text(locked, found) == Extracted("", False, ENCRYPTED)


def test_broken_office_files_give_errors() -> None:
    docx = samples.docx()
    assert _extract(docx[: len(docx) // 2], "v.docx").error in (CORRUPTED,)
    mangled = samples.rezip(docx, replace={"word/document.xml": b"<w:document><unclosed"})
    assert extract_text(mangled, detect_full(docx, "v.docx")).error == CORRUPTED
