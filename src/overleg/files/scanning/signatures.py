"""The signature databases Overleg manages: its own test signatures, freshclam, fingerprints.

The database folder (``Settings.scan_clamd_db_dir``) holds the official ClamAV databases
when freshclam could fetch them (or an admin copied them in) plus Overleg's own small
signatures (``overleg.hdb``, ``overleg.ndb``, ``overleg.yara``) for the EICAR test file and
Overleg's test marker, so that scanning works, and can be tested, without the internet.

The EICAR string and the test marker are assembled at run time: no file of the repository
contains them, so that no scanner flags the repository itself.

``fingerprint`` changes whenever a database file or an admin's YARA rule changes: a caller
that stored the fingerprint with each scan knows which files to scan again.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from overleg.settings import Settings

#: bump whenever the built-in signatures (here and in yara_rules) change: it is part of the
#: fingerprint, so an upgrade of Overleg's own signatures triggers rescans too
BUILTIN_VERSION = "1"

HDB_FILE = "overleg.hdb"
NDB_FILE = "overleg.ndb"
YARA_FILE = "overleg.yara"

#: the names under which the built-in signatures report (clamd appends ``.UNOFFICIAL``)
EICAR_HDB_NAME = "Overleg.Test.EICAR-HDB"
EICAR_NDB_NAME = "Overleg.Test.EICAR-NDB"
MARKER_RULE = "Overleg_Test_Malware_Marker"

_EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f"

#: the files of a ClamAV database folder (freshclam's state files such as freshclam.dat
#: change on every run and are not signatures)
DB_SUFFIXES = frozenset(
    {
        ".cvd", ".cld", ".cud", ".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu",
        ".msu", ".ndb", ".ndu", ".ldb", ".ldu", ".idb", ".cdb", ".cbc", ".pdb", ".gdb",
        ".wdb", ".crb", ".cat", ".ftm", ".fp", ".sfp", ".ign", ".ign2", ".info", ".yar",
        ".yara", ".pwdb", ".imp",
    }
)  # fmt: skip
YARA_SUFFIXES = frozenset({".yar", ".yara"})

#: files up to this size are hashed by content; bigger ones (the official .cvd/.cld files,
#: hundreds of MB) by size and modification time, which freshclam always changes
_HASH_CONTENT_UP_TO = 1024 * 1024

#: freshclam: one attempt, short connect/stall timeouts, so that an offline site fails in
#: seconds; a download that makes progress is bounded only by ``update``'s timeout
FRESHCLAM_CONNECT_TIMEOUT = 10
FRESHCLAM_RECEIVE_TIMEOUT = 30
FRESHCLAM_FILE = "freshclam.conf"


def eicar() -> bytes:
    """The 68-byte EICAR anti-virus test file."""
    data = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR" + b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == _EICAR_MD5
    return data


def malware_marker() -> bytes:
    """Overleg's test marker: any file that contains it is reported as malware (by clamd,
    through ``overleg.yara``, and by the YARA engine's built-in rules)."""
    return b"OVERLEG-TEST-" + b"MALWARE-MARKER"


def yara_string(data: bytes) -> str:
    """``data`` as a YARA hex string, e.g. ``{ 58 35 4f }``."""
    return "{ " + " ".join(f"{b:02x}" for b in data) + " }"


def builtin_databases() -> dict[str, str]:
    """Overleg's own clamd signature files: file name -> text."""
    e = eicar()
    md5 = hashlib.md5(e, usedforsecurity=False).hexdigest()
    return {
        # md5:size:name - the exact EICAR file
        HDB_FILE: f"{md5}:{len(e)}:{EICAR_HDB_NAME}\n",
        # name:target:offset:hex - EICAR anywhere in any file (target 0), e.g. in an archive
        NDB_FILE: f"{EICAR_NDB_NAME}:0:*:{e.hex()}\n",
        YARA_FILE: (
            f"rule {MARKER_RULE}\n{{\n"
            f"    strings:\n        $marker = {yara_string(malware_marker())}\n"
            "    condition:\n        $marker\n}\n"
        ),
    }


def _write_if_changed(path: Path, text: str) -> bool:
    """Replace ``path`` atomically unless it already holds ``text`` (an unchanged file keeps
    its mtime, so the fingerprint does not move). True if written."""
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def write_builtin(db_dir: Path) -> list[Path]:
    """Create ``db_dir`` (mode 0700) and write Overleg's signature files into it; the files
    that were (re)written."""
    db_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return [
        db_dir / name
        for name, text in builtin_databases().items()
        if _write_if_changed(db_dir / name, text)
    ]


def _files(folder: Path | None, suffixes: frozenset[str]) -> Iterator[Path]:
    if folder is None:
        return
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for path in entries:
        if path.suffix.lower() in suffixes and not path.name.startswith(".") and path.is_file():
            yield path


def _entry(path: Path) -> bytes:
    try:
        st = path.stat()
        if st.st_size <= _HASH_CONTENT_UP_TO:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest = f"mtime:{st.st_mtime_ns}"
    except FileNotFoundError:  # removed while we looked: as if it were not there
        return b""
    return f"{path.name}\0{st.st_size}\0{digest}\n".encode()


def fingerprint(db_dir: Path, yara_dir: Path | None = None) -> str:
    """A hex digest over the database files in ``db_dir`` and the YARA rule files in
    ``yara_dir`` (names, sizes, and contents or modification times) and the version of the
    built-in signatures. Missing folders count as empty. Equal fingerprints: same signatures."""
    h = hashlib.sha256(f"overleg-signatures\0{BUILTIN_VERSION}\n".encode())
    h.update(b"[db]\n")
    for path in _files(db_dir, DB_SUFFIXES):
        h.update(_entry(path))
    h.update(b"[yara]\n")
    for path in _files(yara_dir, YARA_SUFFIXES):
        h.update(_entry(path))
    return h.hexdigest()


def rules_fingerprint(yara_dir: Path | None) -> str:
    """A hex digest over the YARA rule files in ``yara_dir`` only (the YARA engine's cache key)."""
    h = hashlib.sha256(b"overleg-yara\n")
    for path in _files(yara_dir, YARA_SUFFIXES):
        h.update(_entry(path))
    return h.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """``fingerprint`` of the folders ``settings`` configure."""
    assert settings.scan_clamd_db_dir is not None
    return fingerprint(settings.scan_clamd_db_dir, settings.scan_yara_dir)


# --- freshclam ---------------------------------------------------------------------------


def find_binary(name: str) -> str | None:
    """``name`` on the PATH, or in the sbin folders a user's PATH often lacks."""
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def current_user() -> str:
    """The name of the effective user (not $USER, which sudo may keep from the caller)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def run_dir(settings: Settings) -> Path:
    """Where Overleg keeps clamd's and freshclam's configuration, pid, log and spool."""
    return settings.data_dir / "clamd"


def freshclam_config(settings: Settings, *, mirror: str | None = None) -> str:
    """A freshclam.conf that updates ``scan_clamd_db_dir`` as the current user and tells
    Overleg's clamd to reload (when its configuration exists)."""
    assert settings.scan_clamd_db_dir is not None
    folder = run_dir(settings).resolve()
    lines = [
        f"DatabaseDirectory {settings.scan_clamd_db_dir.resolve()}",
        f"UpdateLogFile {folder / 'freshclam.log'}",
        # as root freshclam switches to this user: the folder is ours, not "clamav"'s
        f"DatabaseOwner {current_user()}",
        "Foreground yes",
        "MaxAttempts 1",
        f"ConnectTimeout {FRESHCLAM_CONNECT_TIMEOUT}",
        f"ReceiveTimeout {FRESHCLAM_RECEIVE_TIMEOUT}",
    ]
    if mirror:
        lines.append(f"PrivateMirror {mirror}")
    else:
        lines.append("DatabaseMirror database.clamav.net")
    clamd_conf = folder / "clamd.conf"
    if clamd_conf.exists():
        lines.append(f"NotifyClamd {clamd_conf}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class UpdateOutcome:
    """What ``update`` did: ``ok`` if freshclam succeeded; ``message`` is one line;
    ``changed`` if the fingerprint moved (then scan recent files again)."""

    ok: bool
    message: str
    changed: bool
    fingerprint: str


def _first_error(output: str) -> str:
    # e.g. "ERROR: remote_cvdhead: Download failed (6) ERROR:  Message: Couldn't resolve
    # host name": the last part of the first ERROR line says it best
    errors = [
        line.rsplit("ERROR:", 1)[1].strip().removeprefix("Message:").strip()
        for line in output.splitlines()
        if "ERROR:" in line and line.rsplit("ERROR:", 1)[1].strip()
    ]
    if errors:
        return errors[0]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def update(
    settings: Settings, *, timeout: float = 1800.0, mirror: str | None = None
) -> UpdateOutcome:
    """Write Overleg's own signatures, then run freshclam (with a configuration of its own)
    into the database folder. Never raises for an unreachable mirror or a missing freshclam:
    the outcome says what happened. Blocking: call it in a thread from async code."""
    assert settings.scan_clamd_db_dir is not None
    before = settings_fingerprint(settings)
    write_builtin(settings.scan_clamd_db_dir)
    binary = find_binary("freshclam")
    if binary is None:
        ok, message = False, "freshclam is not installed (apt-get install clamav-freshclam)"
    else:
        folder = run_dir(settings)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = folder / FRESHCLAM_FILE
        _write_if_changed(conf, freshclam_config(settings, mirror=mirror))
        try:
            done = subprocess.run(  # noqa: S603 - our binary, our arguments
                [binary, f"--config-file={conf}", "--stdout"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            ok, message = False, f"freshclam did not finish within {timeout:g} s"
        except OSError as e:
            ok, message = False, f"freshclam could not run: {e}"
        else:
            output = done.stdout + done.stderr
            if done.returncode == 0:
                ok, message = True, "signatures are up to date"
            else:
                ok = False
                message = f"freshclam failed (exit {done.returncode}): {_first_error(output)}"
    after = settings_fingerprint(settings)
    return UpdateOutcome(ok=ok, message=message, changed=after != before, fingerprint=after)
