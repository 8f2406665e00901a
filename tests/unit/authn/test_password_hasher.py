from __future__ import annotations

import unicodedata

import pytest

from overleg.security.authn.passwords import InvalidPasswordHash, PasswordHasher, normalise


def fullwidth(text: str) -> str:
    """``text`` with ASCII letters and digits replaced by their full-width forms."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def test_verify_accepts_the_right_password_and_refuses_a_wrong_one(
    hasher: PasswordHasher,
) -> None:
    stored = hasher.hash("violet anchor gravel")
    assert hasher.verify(stored, "violet anchor gravel") is True
    assert hasher.verify(stored, "violet anchor grave") is False
    assert hasher.verify(stored, "") is False


def test_hash_is_argon2id_with_the_configured_parameters(hasher: PasswordHasher) -> None:
    assert hasher.hash("violet anchor gravel").startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash("violet anchor gravel") != hasher.hash("violet anchor gravel")


def test_defaults_are_the_rfc_9106_low_memory_profile() -> None:
    # Read from the dummy hash: no 64 MiB hash is computed.
    assert PasswordHasher().dummy_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_needs_rehash_only_when_parameters_differ(hasher: PasswordHasher) -> None:
    stored = hasher.hash("violet anchor gravel")
    assert hasher.needs_rehash(stored) is False
    assert PasswordHasher(time_cost=2, memory_cost_kib=8, parallelism=1).needs_rehash(stored)
    assert PasswordHasher(time_cost=1, memory_cost_kib=16, parallelism=1).needs_rehash(stored)
    assert PasswordHasher(time_cost=1, memory_cost_kib=16, parallelism=2).needs_rehash(stored)


def test_a_hash_with_old_parameters_still_verifies(hasher: PasswordHasher) -> None:
    stored = hasher.hash("violet anchor gravel")
    stronger = PasswordHasher(time_cost=2, memory_cost_kib=16, parallelism=1)
    assert stronger.verify(stored, "violet anchor gravel") is True
    assert stronger.needs_rehash(stored) is True


@pytest.mark.parametrize("corrupt", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$"])
def test_a_corrupt_hash_raises_rather_than_reading_as_a_wrong_password(
    hasher: PasswordHasher, corrupt: str
) -> None:
    with pytest.raises(InvalidPasswordHash):
        hasher.verify(corrupt, "violet anchor gravel")
    with pytest.raises(InvalidPasswordHash):
        hasher.needs_rehash(corrupt)


def test_a_truncated_hash_raises(hasher: PasswordHasher) -> None:
    stored = hasher.hash("violet anchor gravel")
    # Cut the digest to one base64 character: never a valid encoding. (Cutting it to a
    # valid shorter length would be a different, shorter digest, i.e. a wrong password.)
    truncated = stored[: stored.rindex("$") + 2]
    with pytest.raises(InvalidPasswordHash):
        hasher.verify(truncated, "violet anchor gravel")


def test_composed_and_decomposed_forms_of_a_password_are_the_same_password(
    hasher: PasswordHasher,
) -> None:
    composed = "Crème brûlée à la carte"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert hasher.verify(hasher.hash(composed), decomposed) is True
    assert hasher.verify(hasher.hash(decomposed), composed) is True


def test_full_width_forms_are_the_same_password(hasher: PasswordHasher) -> None:
    assert normalise(fullwidth("passphrase")) == "passphrase"
    assert hasher.verify(hasher.hash("passphrase one"), fullwidth("passphrase") + " one") is True


def test_verify_dummy_is_false_and_uses_the_hashers_parameters(hasher: PasswordHasher) -> None:
    assert hasher.verify_dummy("anything at all") is False
    assert hasher.needs_rehash(hasher.dummy_hash) is False
    assert hasher.verify(hasher.dummy_hash, "") is False


@pytest.mark.parametrize(
    "params",
    [
        {"time_cost": 0},
        {"parallelism": 0},
        {"memory_cost_kib": 7, "parallelism": 1},
        {"memory_cost_kib": 8, "parallelism": 2},
    ],
)
def test_impossible_parameters_fail_at_construction(params: dict[str, int]) -> None:
    full = {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 1} | params
    with pytest.raises(ValueError, match="argon2 needs"):
        PasswordHasher(**full)
