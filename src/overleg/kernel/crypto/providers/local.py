"""Key provider backed by a keyring file encrypted under a master key.

The keyring is a JSON file (mode 0600) holding each KEK encrypted with AES-256-GCM under
the master key (AAD = the KEK id) and a "check" entry that proves the master key is the
one the keyring was made with. Writes are atomic (temp file, fsync, rename) and serialised
between processes with ``flock`` on a ``<keyring>.lock`` file, so workers sharing a
keyring never lose each other's keys.

Crypto-shredding with this provider is only as good as the keyring's own copies: a backup
of the keyring file still holds destroyed KEKs (under the master key). Keep keyring backups
apart from database backups, with a shorter retention, or use an HSM.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from overleg.kernel.crypto.errors import (
    CryptoError,
    DecryptionFailed,
    KeyExists,
    KeyUnavailable,
    WrongMasterKey,
)
from overleg.kernel.crypto.providers.base import KeyProvider
from overleg.kernel.errors import ConfigurationError

KEY_SIZE = 32
_NONCE = 12
_TAG = 16
_FORMAT = "overleg-keyring/1"
_CHECK = b"overleg-keyring-check"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def load_master_key(env_value: str | None, file_path: Path, create: bool) -> bytes:
    """Return the 32-byte master key.

    ``env_value`` (base64) wins when not ``None``. Otherwise the key is read from
    ``file_path`` (base64 text); with ``create`` a missing file is created with a fresh
    random key and mode 0600. ``ConfigurationError`` if the value is not base64 of 32
    bytes, if the file is missing (and not to be created), or if the file is accessible
    by group or others.
    """
    if env_value is not None:
        return _decode_master_key(env_value, "the master key from the environment")
    if not file_path.exists():
        if not create:
            raise ConfigurationError(
                f"no master key: none given in the environment and no key file at {file_path}"
            )
        _create_key_file(file_path)
    mode = stat.S_IMODE(file_path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"master key file {file_path} is accessible by group or others "
            f"(mode {mode:04o}); run: chmod 600 {file_path}"
        )
    return _decode_master_key(file_path.read_text("ascii"), f"master key file {file_path}")


def _decode_master_key(text: str, source: str) -> bytes:
    # Never put the value itself into the message: it ends up in logs.
    stripped = text.strip()
    if not stripped:
        raise ConfigurationError(f"{source} is empty")
    try:
        key = _unb64(stripped)
    except (binascii.Error, UnicodeEncodeError):
        raise ConfigurationError(f"{source} is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise ConfigurationError(f"{source} decodes to {len(key)} bytes; it must be {KEY_SIZE}")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: if two processes race, exactly one key wins and both then read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as f:
        os.fchmod(f.fileno(), 0o600)  # the umask may have removed bits, never added
        f.write(_b64(os.urandom(KEY_SIZE)) + "\n")
        f.flush()
        os.fsync(f.fileno())


class LocalKeyringProvider(KeyProvider):
    """KEKs in a master-key-encrypted keyring file; created if missing.

    ``WrongMasterKey`` at construction if the file exists and the master key does not
    open it: starting anyway would write new data under keys nobody can recover later.
    """

    name = "local"

    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != KEY_SIZE:
            raise ConfigurationError(f"the master key must be {KEY_SIZE} bytes")
        self._path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._master = AESGCM(master_key)
        self._lock = threading.RLock()
        self._check = ""
        self._entries: dict[str, str] = {}  # kek_id -> base64(nonce + ct) under master key
        self._keks: dict[str, bytes] = {}  # decrypted KEKs, always a subset of _entries
        self._seen: tuple[int, int, int] | None = None  # identity of the file last read
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, self._file_lock():
            if path.exists():
                self._load()
            else:
                self._check = self._seal_entry(_CHECK, _CHECK)
                self._write()

    # -- KeyProvider ---------------------------------------------------------------

    def create_kek(self, kek_id: str) -> None:
        with self._lock, self._file_lock():
            self._load()
            if kek_id in self._entries:
                raise KeyExists(f"KEK {kek_id} already exists")
            kek = os.urandom(KEY_SIZE)
            self._entries[kek_id] = self._seal_entry(kek, kek_id.encode())
            self._write()
            self._keks[kek_id] = kek

    def wrap(self, kek_id: str, dek: bytes, aad: bytes) -> bytes:
        kek = self._kek(kek_id)
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(kek).encrypt(nonce, dek, aad)

    def unwrap(self, kek_id: str, blob: bytes, aad: bytes) -> bytes:
        kek = self._kek(kek_id)
        if len(blob) < _NONCE + _TAG:
            raise DecryptionFailed("wrapped key too short")
        try:
            return AESGCM(kek).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise DecryptionFailed(f"wrapped key does not open under KEK {kek_id}") from None

    def destroy_kek(self, kek_id: str) -> None:
        with self._lock, self._file_lock():
            self._load()
            self._keks.pop(kek_id, None)
            if self._entries.pop(kek_id, None) is not None:
                self._write()

    def has_kek(self, kek_id: str) -> bool:
        with self._lock:
            self._refresh()
            return kek_id in self._entries

    def check(self) -> None:
        try:
            with self._lock:
                self._load()
                if not os.access(self._path.parent, os.W_OK):
                    raise ConfigurationError(f"keyring directory {self._path.parent} not writable")
        except OSError as e:
            raise ConfigurationError(f"keyring at {self._path} is unusable: {e}") from e
        except CryptoError as e:
            raise ConfigurationError(str(e)) from e

    # -- internals -----------------------------------------------------------------

    def _kek(self, kek_id: str) -> bytes:
        with self._lock:
            self._refresh()
            if kek_id not in self._entries:
                # Another process may have added it since; the identity check can miss a
                # rewrite within the same timestamp tick, so read once more for sure.
                self._load()
            entry = self._entries.get(kek_id)
            if entry is None:
                raise KeyUnavailable(f"KEK {kek_id} does not exist")
            kek = self._keks.get(kek_id)
            if kek is None:
                try:
                    kek = self._open_entry(entry, kek_id.encode(), what=f"keyring entry {kek_id}")
                except DecryptionFailed as e:
                    # Not the caller's ciphertext at fault: the keyring itself is damaged.
                    raise CryptoError(str(e)) from None
                self._keks[kek_id] = kek
            return kek

    def _refresh(self) -> None:
        """Reload if the file changed (other processes may have added or destroyed KEKs)."""
        try:
            st = self._path.stat()
        except FileNotFoundError:
            raise CryptoError(f"keyring file {self._path} has disappeared") from None
        if (st.st_ino, st.st_mtime_ns, st.st_size) != self._seen:
            self._load()

    def _load(self) -> None:
        st = self._path.stat()
        try:
            doc: Any = json.loads(self._path.read_bytes())
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise ValueError("unknown format")
            check, keks = doc["check"], doc["keks"]
            if not isinstance(check, str) or not isinstance(keks, dict):
                raise ValueError("bad structure")
            entries = {str(k): str(v) for k, v in keks.items()}
        except (ValueError, KeyError) as e:
            raise ConfigurationError(f"keyring at {self._path} is not readable: {e}") from e
        try:
            self._open_entry(check, _CHECK, what="check entry")
        except DecryptionFailed:
            raise WrongMasterKey(
                f"the master key does not open the keyring at {self._path}; refusing to "
                "start so that no data is written under a new key"
            ) from None
        self._check = check
        self._entries = entries
        # Forget KEKs destroyed elsewhere, so this process cannot keep using them.
        self._keks = {k: v for k, v in self._keks.items() if k in entries}
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _write(self) -> None:
        doc = {"format": _FORMAT, "check": self._check, "keks": self._entries}
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        parent = self._path.parent
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self._path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # fsync the directory too, or the rename itself may be lost in a crash
        dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        st = self._path.stat()
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _seal_entry(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(_NONCE)
        return _b64(nonce + self._master.encrypt(nonce, plaintext, aad))

    def _open_entry(self, entry: str, aad: bytes, *, what: str) -> bytes:
        try:
            raw = _unb64(entry)
        except (binascii.Error, UnicodeEncodeError):
            raise DecryptionFailed(f"{what} is not base64") from None
        try:
            return self._master.decrypt(raw[:_NONCE], raw[_NONCE:], aad)
        except (InvalidTag, ValueError):
            raise DecryptionFailed(f"{what} does not open under the master key") from None
