"""Normalising and tokenising text for the index and for queries. Pure functions, no I/O.

**Normalisation** (:func:`normalise`), in this order:

1. Unicode NFKC: compatibility forms become their plain equivalents (full-width
   letters -> ASCII letters, the ligature ``ﬁ`` -> ``fi``, superscript ``²`` -> ``2``);
2. case folding (``str.casefold``: ``Straße`` -> ``strasse``);
3. diacritics folded: NFD, then every nonspacing mark (category ``Mn``) is dropped
   (``Zoë`` -> ``zoe``, ``Ångström`` -> ``angstrom``), then NFKC again to recompose
   what is left (Hangul syllables, for example). Spacing marks (``Mc``, the vowel signs of
   Indic scripts) are kept: they are part of the letters, not accents on them.

Plain ASCII text takes a fast path (its NFKC form is itself; only the case changes).

**Tokens** (:func:`tokens`): after normalisation a text is split into

- *words*: maximal runs of letters, digits and spacing marks. Everything else separates
  words, including ``_``, apostrophes and hyphens (``e-mail`` is ``e`` ``mail``;
  ``o'brien`` is ``o`` ``brien``);
- *numbers* with inner separators, kept whole: ``3.14``, ``1,000``, ``10.0.0.1`` (a
  ``.`` or ``,`` between two digits does not split);
- *e-mail addresses*, kept whole (``mia.de.vries@contoso.example``) AND split into their
  words (``mia`` ``de`` ``vries`` ``contoso`` ``example``), so that both the address and a
  part of it find the message.

Every word has a position (0, 1, 2, ...). An e-mail address is stacked on the position of
its first word, as search engines do with synonyms, so that phrases across it still line
up: in ``write to mia@x.example today``, ``to`` is at 1, the address and ``mia`` at 2,
``x`` at 3, ``example`` at 4, ``today`` at 5.

Tokens longer than :data:`MAX_TOKEN_CHARS` are cut to that length (on both sides, so a
long token still finds itself), and a text contributes at most :data:`MAX_TOKENS`
positions (the rest of a very long text is not indexed).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TOKEN_CHARS = 64
MAX_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class Token:
    """A normalised term at a word position of its text."""

    term: str
    position: int


def normalise(text: str) -> str:
    """NFKC, case folding and diacritic folding (see the module docstring).

    Idempotent: ``normalise(normalise(x)) == normalise(x)`` (a property test checks it).
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    # Recompose with NFKC rather than NFC: case folding can yield compatibility
    # characters, and the result must be a fixed point.
    return unicodedata.normalize("NFKC", stripped)


def _marks_class() -> str:
    """A regex class body of the spacing and enclosing marks (Mc, Me): word characters
    for us, but not for ``\\w``. Built once, over the planes that have any."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x20000):
        if unicodedata.category(chr(cp)) in ("Mc", "Me"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


def _build_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(with e-mail addresses, without): most texts have no ``@`` and skip that branch."""
    word = rf"[\w{_marks_class()}]+"
    label = r"[^\W_]+(?:-[^\W_]+)*"
    email = rf"[^\W_](?:[\w.+-]*[^\W_])?@{label}(?:\.{label})+"
    number = r"\d+(?:[.,]\d+)+"
    return (
        re.compile(rf"(?P<email>{email})|(?P<number>{number})|(?P<word>{word})"),
        re.compile(rf"(?P<number>{number})|(?P<word>{word})"),
    )


#: built at import (about 50 ms), so that no request pays for it
_PATTERN, _PLAIN_PATTERN = _build_patterns()
#: the same as _PLAIN_PATTERN without groups, for ``findall``
_PLAIN_WORDS = re.compile(
    _PLAIN_PATTERN.pattern.replace("?P<number>", "?:").replace("?P<word>", "?:")
)


def _words(chunk: str) -> list[str]:
    """Split a word on ``_`` (``\\w`` includes it; we do not)."""
    if "_" not in chunk:
        return [chunk]
    return [w for w in chunk.split("_") if w]


def _email_parts(address: str) -> list[str]:
    """The words of an e-mail address: ``mia.de.vries@x.example`` -> mia de vries x example."""
    return [
        w
        for m in _PLAIN_PATTERN.finditer(address.replace("@", " ").replace(".", " "))
        for w in _words(m.group())
    ]


def _scan(normalised: str) -> list[tuple[str, int, int]]:
    """(term, position, span) for a normalised text. ``span`` is 0 for a word; for an
    e-mail address it is the number of its parts, which follow it, the first of them at
    the address's own position."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    pattern = _PATTERN if "@" in normalised else _PLAIN_PATTERN
    for m in pattern.finditer(normalised):
        chunk = m.group()
        if m.lastgroup == "email":
            parts = _email_parts(chunk)
            out.append((chunk[:MAX_TOKEN_CHARS], pos, len(parts)))
            words = parts
        elif m.lastgroup == "number":
            words = [chunk]
        else:
            words = _words(chunk)
        for w in words:
            out.append((w[:MAX_TOKEN_CHARS], pos, 0))
            pos += 1
        if pos >= MAX_TOKENS:
            return [t for t in out if t[1] < MAX_TOKENS]
    return out


def tokens(text: str) -> list[Token]:
    """Every token of ``text`` with its position, as the index stores them."""
    return [Token(term, pos) for term, pos, _ in _scan(normalise(text))]


def query_tokens(text: str) -> list[Token]:
    """The tokens a query needs to match ``text`` as a phrase: like :func:`tokens`, but an
    e-mail address stands for its parts (a message with the address has them too).
    Positions are relative to the first token, which is at 0."""
    out: list[Token] = []
    covered_until = -1
    for term, pos, span in _scan(normalise(text)):
        if span:
            out.append(Token(term, pos))
            covered_until = pos + span - 1
        elif pos > covered_until:
            out.append(Token(term, pos))
    if out and out[0].position:
        base = out[0].position
        out = [Token(t.term, t.position - base) for t in out]
    return out


def term_positions(text: str) -> dict[str, list[int]]:
    """Each distinct term of ``text`` with its positions, ascending (what is indexed)."""
    normalised = normalise(text)
    out: dict[str, list[int]] = {}
    if "@" in normalised:
        for term, pos, _ in _scan(normalised):
            out.setdefault(term, []).append(pos)
        return out
    # The common case, kept lean: it runs for every message sent and edited.
    words = _PLAIN_WORDS.findall(normalised)
    if "_" in normalised:
        words = [w for chunk in words for w in _words(chunk)]
    for pos, word in enumerate(words[:MAX_TOKENS]):
        term = word[:MAX_TOKEN_CHARS]
        where = out.get(term)
        if where is None:
            out[term] = [pos]
        else:
            where.append(pos)
    return out
