"""Key provider backed by a PKCS#11 token (an HSM; SoftHSM2 in development and tests).

Each KEK is an AES-256 secret key generated inside the token (TOKEN, PRIVATE, SENSITIVE,
non-extractable), labelled with its KEK id. Data keys are "wrapped" with ``C_Encrypt``
under ``CKM_AES_GCM`` rather than ``C_WrapKey``, because SoftHSM2 offers GCM only for
encryption; the token generates no nonce, so a random 12-byte one is prepended here.

Sessions: PKCS#11 login state belongs to the process, not to a session. A second
``C_Login`` fails with USER_ALREADY_LOGGED_IN, and python-pkcs11's ``Session.close()``
calls ``C_Logout``, which silently logs out every other session on the token (private
keys then look absent, so a destroy would "succeed" without destroying anything). So all
providers of a process share one logged-in session per token, opened lazily, used under
one lock (python-pkcs11 sessions are not thread safe) and reopened once if it went stale.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    DeviceRemoved,
    MultipleObjectsReturned,
    MultipleTokensReturned,
    NoSuchKey,
    NoSuchToken,
    PKCS11Error,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    UserAlreadyLoggedIn,
    UserNotLoggedIn,
)
from pkcs11.types import DecryptMixin, EncryptMixin, Key

from overleg.kernel.crypto.errors import CryptoError, DecryptionFailed, KeyExists, KeyUnavailable
from overleg.kernel.crypto.providers.base import KeyProvider
from overleg.kernel.errors import ConfigurationError

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib

T = TypeVar("T")

_NONCE = 12
_TAG = 16
# Errors after which the session is gone but a fresh one may work.
_STALE = (SessionHandleInvalid, SessionClosed, DeviceRemoved, TokenNotPresent, UserNotLoggedIn)
# Guards the library's global state (C_Initialize/C_Finalize) and the shared sessions.
_LOCK = threading.RLock()
# (library path, token label) -> (PIN, the process's logged-in session on that token)
_SESSIONS: dict[tuple[str, str], tuple[str, pkcs11.Session]] = {}


class Pkcs11Provider(KeyProvider):
    """KEKs inside a PKCS#11 token selected by label, used with the user PIN."""

    name = "pkcs11"

    def __init__(self, lib_path: str, token_label: str, pin: str) -> None:
        self._lib_path = lib_path
        self._label = token_label
        self._pin = pin

    # -- KeyProvider ---------------------------------------------------------------

    def create_kek(self, kek_id: str) -> None:
        def op(s: pkcs11.Session) -> None:
            if _objects(s, kek_id):
                raise KeyExists(f"KEK {kek_id} already exists in token {self._label}")
            s.generate_key(
                KeyType.AES,
                256,
                label=kek_id,
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    # Least privilege: data keys go through C_Encrypt, never C_WrapKey.
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                },
            )

        self._run(op, f"creating KEK {kek_id}")

    def wrap(self, kek_id: str, dek: bytes, aad: bytes) -> bytes:
        def op(s: pkcs11.Session) -> bytes:
            key = _key(s, kek_id)
            if not isinstance(key, EncryptMixin):
                raise CryptoError(f"KEK {kek_id} cannot encrypt")
            nonce = os.urandom(_NONCE)
            out = key.encrypt(
                dek, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad=aad)
            )
            assert isinstance(out, bytes)
            return nonce + out

        return self._run(op, f"wrapping under KEK {kek_id}")

    def unwrap(self, kek_id: str, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < _NONCE + _TAG:
            raise DecryptionFailed("wrapped key too short")

        def op(s: pkcs11.Session) -> bytes:
            key = _key(s, kek_id)
            if not isinstance(key, DecryptMixin):
                raise CryptoError(f"KEK {kek_id} cannot decrypt")
            try:
                out = key.decrypt(
                    blob[_NONCE:],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(blob[:_NONCE], aad=aad),
                )
            except _STALE:
                raise
            except PKCS11Error:
                # SoftHSM reports a bad tag as CKR_GENERAL_ERROR; any failure here means
                # this blob does not open under this key.
                raise DecryptionFailed(f"wrapped key does not open under KEK {kek_id}") from None
            assert isinstance(out, bytes)
            return out

        return self._run(op, f"unwrapping under KEK {kek_id}")

    def destroy_kek(self, kek_id: str) -> None:
        def op(s: pkcs11.Session) -> None:
            for obj in _objects(s, kek_id):
                obj.destroy()

        self._run(op, f"destroying KEK {kek_id}")

    def has_kek(self, kek_id: str) -> bool:
        return self._run(lambda s: bool(_objects(s, kek_id)), f"looking up KEK {kek_id}")

    def check(self) -> None:
        def probe(s: pkcs11.Session) -> None:
            if Mechanism.AES_GCM not in s.token.slot.get_mechanisms():
                raise CryptoError(f"token {self._label} does not offer AES-GCM")
            s.generate_random(96)

        try:
            self._run(probe, f"checking HSM token {self._label}")
        except CryptoError as e:
            raise ConfigurationError(str(e)) from e

    def close(self) -> None:
        """Close (and log out) the process's session on this token; the next call reopens it.

        Other providers on the same token share that session and reopen it too.
        """
        with _LOCK:
            entry = _SESSIONS.pop((self._lib_path, self._label), None)
            if entry is not None:
                # Already invalid (finalized library, removed token): nothing left to free.
                with contextlib.suppress(PKCS11Error):
                    entry[1].close()

    # -- internals -----------------------------------------------------------------

    def _run(self, op: Callable[[pkcs11.Session], T], what: str) -> T:
        with _LOCK:
            for attempt in range(2):
                try:
                    return op(self._session())
                except ConfigurationError as e:
                    raise CryptoError(f"{what}: {e}") from e
                except _STALE as e:
                    self.close()
                    if attempt:
                        raise CryptoError(f"{what}: HSM session lost ({e!r})") from e
                except CryptoError:
                    raise
                except PKCS11Error as e:
                    raise CryptoError(f"{what}: {e!r}") from e
            raise AssertionError("unreachable")

    def _session(self) -> pkcs11.Session:
        key = (self._lib_path, self._label)
        entry = _SESSIONS.get(key)
        if entry is not None:
            if entry[0] != self._pin:
                raise ConfigurationError(
                    f"HSM token {self._label} is already in use in this process with another PIN"
                )
            return entry[1]
        try:
            lib = pkcs11.lib(self._lib_path)
        except PKCS11Error as e:
            raise ConfigurationError(f"cannot load PKCS#11 library {self._lib_path}: {e}") from e
        token = self._token(lib)
        try:
            session = token.open(rw=True, user_pin=self._pin)
        except UserAlreadyLoggedIn:
            # Logged in by other code of this process: a plain session shares that login.
            session = token.open(rw=True)
        except PKCS11Error as e:
            raise ConfigurationError(
                f"cannot log in to HSM token {self._label}: {type(e).__name__}"
            ) from e
        _SESSIONS[key] = (self._pin, session)
        return session

    def _token(self, lib: Pkcs11Lib) -> pkcs11.Token:
        for attempt in range(2):
            try:
                return lib.get_token(token_label=self._label)
            except NoSuchToken:
                if attempt:
                    break
                # The token list is read at C_Initialize; a token initialised since then
                # only shows up after finalize + initialize, which ends every session of
                # the library (forget them, they cannot even be closed any more).
                lib.reinitialize()
                for stale in [k for k in _SESSIONS if k[0] == self._lib_path]:
                    del _SESSIONS[stale]
            except MultipleTokensReturned:
                raise ConfigurationError(
                    f"more than one HSM token is labelled {self._label}"
                ) from None
        raise ConfigurationError(f"no HSM token labelled {self._label} in {self._lib_path}")


def _objects(s: pkcs11.Session, kek_id: str) -> list[pkcs11.Object]:
    return list(s.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: kek_id}))


def _key(s: pkcs11.Session, kek_id: str) -> Key:
    try:
        key = s.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=kek_id)
    except NoSuchKey:
        raise KeyUnavailable(f"KEK {kek_id} does not exist") from None
    except MultipleObjectsReturned:
        raise CryptoError(f"more than one key is labelled {kek_id}") from None
    return key
