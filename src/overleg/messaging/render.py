"""Message text: Markdown rendered by markdown-it-py, then sanitised by nh3.

Raw HTML in the source is escaped (``html=False``), and whatever the renderer produces is
cleaned again with an allow-list, so no script, style, event handler or ``javascript:`` link
reaches a reader. Images are not allowed: they would load from anywhere (tracking pixels).
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["strikethrough", "table"])
_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRS = {"a": {"href", "title"}, "th": {"style"}, "td": {"style"}}
_SCHEMES = {"http", "https", "mailto"}
MENTION = re.compile(
    r"(?<![\w@])@(channel|team|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63})\b"
)


def render(text: str) -> str:
    """Safe HTML for ``text`` (Markdown)."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRS,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def mention_tokens(text: str) -> list[str]:
    """The ``@...`` tokens of ``text`` in order, de-duplicated: ``channel``, ``team`` or an
    e-mail address (lower case). Resolved to ids by the service."""
    seen: dict[str, None] = {}
    for m in MENTION.finditer(text):
        seen.setdefault(m.group(1).lower(), None)
    return list(seen)
