from __future__ import annotations

import pytest

from tests.unit.crypto.hsm import hsm_missing


def test_hsm_missing_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERLEG_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        hsm_missing("softhsm2-util is not on PATH")
    monkeypatch.delenv("OVERLEG_REQUIRE_SERVICES")
    with pytest.raises(pytest.skip.Exception, match="not available"):
        hsm_missing("softhsm2-util is not on PATH")
