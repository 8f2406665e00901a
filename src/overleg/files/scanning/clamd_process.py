"""Overleg's private clamd: its configuration, starting it (ready on PONG), stopping it.

The instance reads only the configuration Overleg writes (``<data_dir>/clamd/clamd.conf``),
never the distribution's /etc/clamav. It listens on a unix socket only (``LocalSocket``
``scan_clamd_socket``, mode 0600) unless ``scan_clamd_tcp`` asks for TCP too, loads the
managed database folder, runs as the current user, and keeps its pid file, log and spool
folder under ``<data_dir>/clamd``.

Its limits match Overleg's own: ``MaxRecursion`` = ``scan_archive_max_depth``, ``MaxFiles``
= ``scan_archive_max_members``, ``MaxScanSize`` = the stream plus
``scan_archive_max_expanded_bytes``, ``MaxFileSize`` = ``StreamMaxLength`` = the largest
stream accepted, and ``AlertExceedsMax`` so that passing one is a detection
(``Heuristics.Limits.Exceeded.*``), never a silent "OK" for what was not scanned.
``MaxScanTime`` stays under ``scan_timeout_seconds`` so clamd answers before the client
gives up.

clamd spools every INSTREAM (and what it unpacks) to its ``TemporaryDirectory`` while it
scans, deleting the files afterwards: put a tmpfs there (``--temp-dir``) where plaintext
must never touch a disk.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from overleg.files.scanning.clamd import parse_tcp
from overleg.files.scanning.signatures import current_user, find_binary, run_dir, write_builtin
from overleg.settings import Settings

CONF_FILE = "clamd.conf"
PID_FILE = "clamd.pid"
LOG_FILE = "clamd.log"
STDOUT_FILE = "clamd.stdout.log"
SPOOL_DIR = "tmp"

DEFAULT_STREAM_MAX_BYTES = 1024 * 1024 * 1024
#: clamd cannot scan a file of 2 GiB or more (it silently lowers MaxFileSize to this)
MAX_STREAM_BYTES = 2_147_483_645
MIN_STREAM_BYTES = 1024 * 1024
#: with the official databases clamd needs tens of seconds (and ~1 GB of memory) to load
READY_WITHIN_SECONDS = 180.0
STOP_WITHIN_SECONDS = 10.0


class ClamdError(Exception):
    """clamd is not installed, did not start, or cannot be stopped: the message says which."""


def config_path(settings: Settings) -> Path:
    return run_dir(settings) / CONF_FILE


def clamd_config(
    settings: Settings,
    *,
    stream_max_bytes: int = DEFAULT_STREAM_MAX_BYTES,
    temp_dir: Path | None = None,
) -> str:
    """The text of clamd.conf for Overleg's instance (pure: nothing is written)."""
    if not MIN_STREAM_BYTES <= stream_max_bytes <= MAX_STREAM_BYTES:
        raise ValueError(
            f"stream_max_bytes must be between {MIN_STREAM_BYTES} and {MAX_STREAM_BYTES}"
        )
    assert settings.scan_clamd_db_dir is not None and settings.scan_clamd_socket is not None
    folder = run_dir(settings).resolve()
    spool = (temp_dir or folder / SPOOL_DIR).resolve()
    scan_time_ms = max(1000, int(settings.scan_timeout_seconds * 800))  # 80 % of ours
    lines = [
        "# Overleg's private clamd (written by `overleg scan config`; changes are overwritten)",
        "Foreground yes",
        f"DatabaseDirectory {settings.scan_clamd_db_dir.resolve()}",
        f"LocalSocket {settings.scan_clamd_socket.resolve()}",
        "LocalSocketMode 600",
        "FixStaleSocket yes",
    ]
    if settings.scan_clamd_tcp:
        host, port = parse_tcp(settings.scan_clamd_tcp)
        lines += [f"TCPSocket {port}", f"TCPAddr {host}"]
    lines += [
        f"PidFile {folder / PID_FILE}",
        f"LogFile {folder / LOG_FILE}",
        "LogTime yes",
        "LogFileMaxSize 10M",
        "LogRotate yes",
        f"TemporaryDirectory {spool}",
        # only used when started as root; then clamd runs as the one who runs Overleg
        f"User {current_user()}",
        f"StreamMaxLength {stream_max_bytes}",
        f"MaxFileSize {stream_max_bytes}",
        f"MaxScanSize {stream_max_bytes + settings.scan_archive_max_expanded_bytes}",
        f"MaxRecursion {settings.scan_archive_max_depth}",
        f"MaxFiles {settings.scan_archive_max_members}",
        f"MaxScanTime {scan_time_ms}",
        "AlertExceedsMax yes",
        "HeuristicAlerts yes",
        "Bytecode yes",
    ]
    return "\n".join(lines) + "\n"


def write_config(
    settings: Settings,
    *,
    stream_max_bytes: int = DEFAULT_STREAM_MAX_BYTES,
    temp_dir: Path | None = None,
) -> Path:
    """Write clamd.conf (mode 0600), create the folders it names (0700) and Overleg's own
    signatures in the database folder (clamd refuses to start with none). Returns the path."""
    text = clamd_config(settings, stream_max_bytes=stream_max_bytes, temp_dir=temp_dir)
    assert settings.scan_clamd_db_dir is not None and settings.scan_clamd_socket is not None
    folder = run_dir(settings)
    for path in (folder, temp_dir or folder / SPOOL_DIR, settings.scan_clamd_socket.parent):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_builtin(settings.scan_clamd_db_dir)
    conf = config_path(settings)
    tmp = conf.with_name(f".{conf.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, conf)
    return conf


def ping_blocking(settings: Settings, timeout: float = 1.0) -> bool:
    """Whether the configured clamd answers PONG now (blocking; for start-up and tests)."""
    try:
        if settings.scan_clamd_tcp:
            sock = socket.create_connection(parse_tcp(settings.scan_clamd_tcp), timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(str(settings.scan_clamd_socket))
            except BaseException:
                sock.close()
                raise
        with sock:
            sock.sendall(b"zPING\0")
            reply = b""
            while b"\0" not in reply and len(reply) < 64:
                data = sock.recv(64)
                if not data:
                    break
                reply += data
        return reply.split(b"\0", 1)[0] == b"PONG"
    except OSError:
        return False


def log_tail(settings: Settings, lines: int = 20) -> str:
    text = ""
    for name in (LOG_FILE, STDOUT_FILE):
        path = run_dir(settings) / name
        if path.exists():
            text += path.read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def launch(
    settings: Settings,
    *,
    stream_max_bytes: int = DEFAULT_STREAM_MAX_BYTES,
    temp_dir: Path | None = None,
) -> int:
    """Write the configuration and start clamd in the background, in a session of its own
    (a Ctrl-C meant for the caller does not reach it); its pid. Does not wait: see
    ``wait_ready``. Not a ``Popen``: the process may outlive the caller (``overleg scan
    start`` exits, clamd runs on)."""
    binary = find_binary("clamd")
    if binary is None:
        raise ClamdError("clamd is not installed (apt-get install clamav-daemon)")
    conf = write_config(settings, stream_max_bytes=stream_max_bytes, temp_dir=temp_dir)
    out = str(run_dir(settings) / STDOUT_FILE)
    return os.posix_spawn(
        binary,
        [binary, "-c", str(conf)],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def exit_code(pid: int) -> int | None:
    """None while ``pid`` runs; its exit code once it has exited (reaped if it is our
    child; -1 if it was not ours to reap)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: look at /proc
        return None if _alive(pid) else -1
    return None if done == 0 else os.waitstatus_to_exitcode(status)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited, it only waits to be reaped


def wait_ready(settings: Settings, pid: int, within: float = READY_WITHIN_SECONDS) -> None:
    """Return once clamd answers PONG; ``ClamdError`` (and the process stopped) if it exits
    or does not answer within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not ping_blocking(settings, timeout=1.0):
        code = exit_code(pid)
        if code is not None or time.monotonic() > deadline:
            stop_pid(pid)
            why = f"exited with {code}" if code is not None else f"did not answer in {within:g} s"
            tail = log_tail(settings, 5).replace("\n", " | ")
            raise ClamdError(f"clamd {why}; log: {tail or '(empty)'}")
        time.sleep(0.05)


def stop_pid(pid: int, within: float = STOP_WITHIN_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``within`` seconds; reaped if it
    is our child. Only for a pid known to be clamd (``launch``, ``running_pid``)."""
    if exit_code(pid) is not None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + within
    while exit_code(pid) is None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.02)


def running_pid(settings: Settings) -> int | None:
    """The pid in Overleg's clamd pid file, if that process is alive and is clamd started
    with Overleg's configuration (a stale file, or a pid reused by another program: None)."""
    try:
        pid = int((run_dir(settings) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_clamd(pid, config_path(settings)) else None


def _is_our_clamd(pid: int, conf: Path) -> bool:
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(os.fsdecode(argv[0])).name == "clamd" and os.fsencode(str(conf.resolve())) in argv


def start(
    settings: Settings,
    *,
    stream_max_bytes: int = DEFAULT_STREAM_MAX_BYTES,
    temp_dir: Path | None = None,
    within: float = READY_WITHIN_SECONDS,
) -> tuple[int, bool]:
    """Start Overleg's clamd unless it already runs; wait until it answers PONG.
    Returns (pid, started now). ``ClamdError`` when it cannot be started."""
    pid = running_pid(settings)
    if pid is not None and ping_blocking(settings):
        return pid, False
    if pid is not None:
        raise ClamdError(f"clamd (pid {pid}) runs but does not answer PING; stop it first")
    pid = launch(settings, stream_max_bytes=stream_max_bytes, temp_dir=temp_dir)
    wait_ready(settings, pid, within)
    return pid, True


def stop(settings: Settings, within: float = STOP_WITHIN_SECONDS) -> int | None:
    """Stop Overleg's clamd by the pid in its pid file (checked to be ours): SIGTERM, then
    SIGKILL after ``within`` seconds. Returns the pid, or None if none was running."""
    pid = running_pid(settings)
    if pid is None:
        return None
    stop_pid(pid, within)
    return pid
