from __future__ import annotations

import hashlib
import re

from overleg.security.authn import tokens

URLSAFE_43 = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, unpadded base64url


def test_new_token_is_256_bits_urlsafe_and_unique() -> None:
    made = [tokens.new_token() for _ in range(200)]
    assert all(URLSAFE_43.fullmatch(t) for t in made)
    assert len(set(made)) == len(made)


def test_hash_token_is_sha256_hex() -> None:
    token = tokens.new_token()
    digest = tokens.hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert tokens.hash_token(token) == digest
    assert tokens.hash_token(tokens.new_token()) != digest


def test_the_hash_does_not_contain_the_token() -> None:
    token = tokens.new_token()
    assert token not in tokens.hash_token(token)


def test_csrf_tokens_are_random_and_compared_exactly() -> None:
    a, b = tokens.new_csrf_token(), tokens.new_csrf_token()
    assert URLSAFE_43.fullmatch(a)
    assert a != b
    assert tokens.csrf_matches(a, a) is True
    assert tokens.csrf_matches(a, b) is False
    assert tokens.csrf_matches(a, a[:-1]) is False
    assert tokens.csrf_matches(a, "") is False
    assert tokens.csrf_matches(a, "é") is False
