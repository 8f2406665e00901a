"""File names from clients: refused with a clear reason, or kept (NFC)."""

from __future__ import annotations

import unicodedata

import pytest

from overleg.files.content import BadFileName, clean_name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        (".", "not a file name"),
        ("..", "not a file name"),
        (" .. ", "not a file name"),
        ("../etc/passwd", "path separator ('/')"),
        ("map/bestand.txt", "path separator ('/')"),
        ("C:\\Windows\\win.ini", "path separator ('\\\\')"),
        ("..\\boot.ini", "path separator"),
        ("nul\x00byte.txt", "U+0000"),
        ("line\nbreak.txt", "U+000A"),
        ("tab\there.txt", "U+0009"),
        ("bell\x07.txt", "U+0007"),
        ("escape\x1b[31m.txt", "U+001B"),
        ("delete\x7f.txt", "U+007F"),
        ("c1\x85control.txt", "U+0085"),
        ("invoice\u202egpj.exe", "U+202E"),  # shows as invoiceexe.jpg
        ("a\u202ab.txt", "U+202A"),
        ("a\u202db.txt", "U+202D"),
        ("a\u2066b.txt", "U+2066"),
        ("a\u2069b.txt", "U+2069"),
        ("report.", "ends with a dot or a space"),
        ("report...", "ends with a dot or a space"),
        ("report. ", "ends with a dot or a space"),
        ("report . ", "ends with a dot or a space"),
        ("CON", "CON is a reserved device name"),
        ("con.txt", "CON is a reserved device name"),
        ("Prn.pdf", "PRN is a reserved device name"),
        ("aux", "AUX is a reserved device name"),
        ("NUL.tar.gz", "NUL is a reserved device name"),
        ("com1", "COM1 is a reserved device name"),
        ("COM9.log", "COM9 is a reserved device name"),
        ("lpt1.txt", "LPT1 is a reserved device name"),
        ("LPT9", "LPT9 is a reserved device name"),
        ("CON .txt", "CON is a reserved device name"),
        ("a" * 252 + ".txt", "256 bytes in UTF-8; at most 255"),
        ("é" * 128, "256 bytes in UTF-8; at most 255"),
    ],
)
def test_bad_names_are_refused_with_a_clear_reason(name: str, reason: str) -> None:
    with pytest.raises(BadFileName) as refused:
        clean_name(name)
    assert reason in str(refused.value)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("verslag.pdf", "verslag.pdf"),
        ("  Notulen overleg 12 maart.docx  ", "Notulen overleg 12 maart.docx"),
        ("Café de Zwaan – offerte (v2).xlsx", "Café de Zwaan – offerte (v2).xlsx"),  # noqa: RUF001
        ("ijsbeer één twee drieë.txt", "ijsbeer één twee drieë.txt"),
        ("Verjaardag 🎂🎉.jpg", "Verjaardag 🎂🎉.jpg"),
        (".bashrc", ".bashrc"),
        ("archief.tar.gz", "archief.tar.gz"),
        ("CONSOLE.txt", "CONSOLE.txt"),
        ("com10.txt", "com10.txt"),
        ("LPT.txt", "LPT.txt"),
        ("a..b", "a..b"),
        ("Q&A: plan?.md", "Q&A: plan?.md"),
        ("مرحبا.txt", "مرحبا.txt"),
        ("a" * 251 + ".txt", "a" * 251 + ".txt"),
    ],
)
def test_good_names_are_kept(name: str, kept: str) -> None:
    assert clean_name(name) == kept


def test_names_are_normalised_to_nfc() -> None:
    decomposed = "cafe\u0301 e\u0301e\u0301n.txt"  # as macOS writes them
    cleaned = clean_name(decomposed)
    assert cleaned == "café één.txt"
    assert cleaned == unicodedata.normalize("NFC", cleaned)
    assert len(cleaned) < len(decomposed)


def test_the_byte_limit_applies_after_nfc() -> None:
    # 127 "é" are 254 bytes composed, 381 decomposed
    name = "e\u0301" * 127
    assert len(name.encode()) > 255
    assert clean_name(name) == "é" * 127
