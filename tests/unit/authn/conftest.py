"""Shared fixtures: a deliberately cheap argon2 hasher so the suite stays fast."""

from __future__ import annotations

import pytest

from overleg.security.authn.passwords import PasswordHasher


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
