"""SoftHSM2 test helpers: where the library is, and what to do when it is missing."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "12345678"
USER_PIN = "1234"


def hsm_missing(reason: str) -> NoReturn:
    """Skip, or fail when the run promised that every service is there."""
    if os.environ.get("OVERLEG_REQUIRE_SERVICES") == "1":
        pytest.fail(f"SoftHSM2 is required (OVERLEG_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"SoftHSM2 not available: {reason}")


@dataclass(frozen=True)
class SoftHsm:
    util: str
    lib_path: str
    conf: Path
    label: str
    pin: str = USER_PIN
    so_pin: str = SO_PIN

    def init_token(self, label: str) -> None:
        subprocess.run(
            [self.util, "--init-token", "--free", "--label", label, *self._pins()],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )

    def _pins(self) -> list[str]:
        return ["--so-pin", self.so_pin, "--pin", self.pin]
