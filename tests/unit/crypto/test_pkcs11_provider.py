from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.exceptions import AttributeSensitive, KeyUnextractable

from overleg.kernel.crypto.errors import DecryptionFailed, KeyExists, KeyUnavailable
from overleg.kernel.crypto.providers.pkcs11 import Pkcs11Provider
from overleg.kernel.errors import ConfigurationError
from tests.unit.crypto.hsm import SoftHsm

pytestmark = pytest.mark.hsm

DEK = os.urandom(32)


def kek_id() -> str:
    return f"t-{uuid.uuid4().hex}-v1"


@pytest.fixture
def provider(softhsm: SoftHsm) -> Iterator[Pkcs11Provider]:
    p = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
    yield p
    p.close()


def test_wrap_unwrap_round_trip(provider: Pkcs11Provider) -> None:
    provider.check()
    k = kek_id()
    provider.create_kek(k)
    assert provider.has_kek(k)
    blob = provider.wrap(k, DEK, b"overleg-dek:t:1")
    assert len(blob) == 12 + 32 + 16
    assert DEK not in blob
    assert provider.wrap(k, DEK, b"overleg-dek:t:1") != blob  # fresh nonce
    assert provider.unwrap(k, blob, b"overleg-dek:t:1") == DEK
    empty_aad = provider.wrap(k, DEK, b"")
    assert provider.unwrap(k, empty_aad, b"") == DEK


def test_kek_is_generated_in_token_and_not_extractable(
    provider: Pkcs11Provider, softhsm: SoftHsm
) -> None:
    k = kek_id()
    provider.create_kek(k)
    lib = pkcs11.lib(softhsm.lib_path)
    # No PIN: the provider's session has logged the process in already (login is per
    # process), and closing a session opened with a PIN would log the provider out.
    with lib.get_token(token_label=softhsm.label).open(rw=True) as s:
        key = s.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=k)
        assert key.key_length == 256
        assert key[Attribute.TOKEN] is True
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.WRAP] is False  # only C_Encrypt/C_Decrypt are ever needed
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]
        # Nor can it be wrapped out with another key of the token.
        other = s.generate_key(KeyType.AES, 256, label="exporter-" + k, store=False)
        with pytest.raises(KeyUnextractable):
            other.wrap_key(key)


def test_unwrap_detects_wrong_aad_tampering_wrong_kek_and_short_blobs(
    provider: Pkcs11Provider,
) -> None:
    k1, k2 = kek_id(), kek_id()
    provider.create_kek(k1)
    provider.create_kek(k2)
    blob = provider.wrap(k1, DEK, b"aad")
    with pytest.raises(DecryptionFailed):
        provider.unwrap(k1, blob, b"other")
    with pytest.raises(DecryptionFailed):
        provider.unwrap(k2, blob, b"aad")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        provider.unwrap(k1, bytes(tampered), b"aad")
    with pytest.raises(DecryptionFailed):
        provider.unwrap(k1, blob[:20], b"aad")
    # The session is still usable after the failures.
    assert provider.unwrap(k1, blob, b"aad") == DEK


def test_destroy_makes_kek_unavailable(provider: Pkcs11Provider, softhsm: SoftHsm) -> None:
    k = kek_id()
    provider.create_kek(k)
    blob = provider.wrap(k, DEK, b"")
    provider.destroy_kek(k)
    provider.destroy_kek(k)  # idempotent
    assert not provider.has_kek(k)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(k, blob, b"")
    with pytest.raises(KeyUnavailable):
        provider.wrap(k, DEK, b"")
    fresh = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
    try:
        with pytest.raises(KeyUnavailable):
            fresh.unwrap(k, blob, b"")
    finally:
        fresh.close()


def test_create_existing_kek_is_refused(provider: Pkcs11Provider) -> None:
    k = kek_id()
    provider.create_kek(k)
    blob = provider.wrap(k, DEK, b"")
    with pytest.raises(KeyExists):
        provider.create_kek(k)
    assert provider.unwrap(k, blob, b"") == DEK


def test_kek_persists_for_a_new_provider_instance(
    provider: Pkcs11Provider, softhsm: SoftHsm
) -> None:
    k = kek_id()
    provider.create_kek(k)
    blob = provider.wrap(k, DEK, b"x")
    provider.close()
    other = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
    try:
        assert other.unwrap(k, blob, b"x") == DEK
    finally:
        other.close()


def test_token_created_after_library_load_is_found_and_old_sessions_recover(
    provider: Pkcs11Provider, softhsm: SoftHsm
) -> None:
    k = kek_id()
    provider.create_kek(k)  # library loaded, session open
    blob = provider.wrap(k, DEK, b"")
    label = f"late-{uuid.uuid4().hex[:8]}"
    softhsm.init_token(label)
    late = Pkcs11Provider(softhsm.lib_path, label, softhsm.pin)
    try:
        late.check()  # needs lib.reinitialize(), which invalidates every open session
        late.create_kek(k)  # same label, other token: independent
        assert late.has_kek(k)
    finally:
        late.close()
    assert provider.unwrap(k, blob, b"") == DEK  # reopened its session transparently


def test_check_reports_bad_configuration(softhsm: SoftHsm) -> None:
    cases = [
        (Pkcs11Provider(softhsm.lib_path, "no-such-token", softhsm.pin), "no HSM token"),
        (Pkcs11Provider("/nonexistent/libpkcs11.so", softhsm.label, softhsm.pin), "cannot load"),
    ]
    for provider, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            provider.check()


def test_wrong_pin_is_a_configuration_error(softhsm: SoftHsm) -> None:
    # A token of its own, so that failed logins cannot affect the shared one.
    label = f"pin-{uuid.uuid4().hex[:8]}"
    softhsm.init_token(label)
    p = Pkcs11Provider(softhsm.lib_path, label, "wrong-pin")
    with pytest.raises(ConfigurationError, match="PinIncorrect"):
        p.check()


def test_closing_one_provider_does_not_fake_destroys_in_another(softhsm: SoftHsm) -> None:
    # Closing a logged-in session logs out the whole process; private keys then look absent
    # and a destroy would "succeed" without destroying anything.
    first = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
    second = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
    try:
        k = kek_id()
        first.create_kek(k)
        assert second.has_kek(k)
        second.close()
        first.destroy_kek(k)
        third = Pkcs11Provider(softhsm.lib_path, softhsm.label, softhsm.pin)
        assert not third.has_kek(k)
        third.create_kek(k)  # and the label really is free again
        assert first.has_kek(k)
    finally:
        first.close()
