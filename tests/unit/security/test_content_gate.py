"""The content gate: no inspectors allows; the strictest verdict wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overleg.security import content_gate as gate
from overleg.security.principal import system


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    for name in ("warns", "blocks"):
        gate.unregister(name)


def test_allows_when_nobody_objects() -> None:
    v = gate.inspect(system(), gate.Content(gate.Channel.MESSAGE, "hello"))
    assert v.allowed and v.kind is gate.VerdictKind.ALLOW


def test_strictest_verdict_wins_and_reasons_are_kept() -> None:
    gate.register("warns", lambda p, c: gate.Verdict(gate.VerdictKind.WARN, ("looks like IBAN",)))
    gate.register(
        "blocks",
        lambda p, c: gate.Verdict(
            gate.VerdictKind.BLOCK if "BSN" in c.text else gate.VerdictKind.ALLOW
        ),
    )
    v = gate.inspect(system(), gate.Content(gate.Channel.FILE, "BSN 123456782"))
    assert not v.allowed and v.reasons == ("looks like IBAN",)
    assert v.inspected_by == ("warns", "blocks")
    ok = gate.inspect(system(), gate.Content(gate.Channel.FILE, "nothing here"))
    assert ok.allowed and ok.kind is gate.VerdictKind.WARN
