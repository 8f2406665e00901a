"""The content gate: every way content comes in (send, edit, upload, meeting chat,
federation inbound) calls ``inspect`` before the content is stored.

Today it allows everything and records that it looked; the DLP, sensitivity-label and
communication-compliance issues plug their inspectors in here, so that no way in can be
forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from overleg.security.principal import Principal


class Channel(StrEnum):
    MESSAGE = "message"
    MESSAGE_EDIT = "message_edit"
    FILE = "file"
    MEETING_CHAT = "meeting_chat"
    FEDERATION = "federation"
    PROFILE = "profile"


class VerdictKind(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


@dataclass(frozen=True)
class Content:
    channel: Channel
    text: str
    container_type: str | None = None
    container_id: str | None = None


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind = VerdictKind.ALLOW
    reasons: tuple[str, ...] = ()
    inspected_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return self.kind is not VerdictKind.BLOCK


Inspector = Callable[[Principal, Content], Verdict]
_inspectors: list[tuple[str, Inspector]] = []


def register(name: str, inspector: Inspector) -> None:
    """Add an inspector (DLP, labels, ...). The strictest verdict wins."""
    _inspectors.append((name, inspector))


def unregister(name: str) -> None:
    _inspectors[:] = [(n, i) for n, i in _inspectors if n != name]


_ORDER = {VerdictKind.ALLOW: 0, VerdictKind.WARN: 1, VerdictKind.BLOCK: 2}


def inspect(principal: Principal, content: Content) -> Verdict:
    kind = VerdictKind.ALLOW
    reasons: list[str] = []
    names: list[str] = []
    for name, inspector in _inspectors:
        v = inspector(principal, content)
        names.append(name)
        reasons.extend(v.reasons)
        if _ORDER[v.kind] > _ORDER[kind]:
            kind = v.kind
    return Verdict(kind=kind, reasons=tuple(reasons), inspected_by=tuple(names))
