"""Run the real ``overleg`` command in child processes, as an admin would.

Nothing here imports the application: the children are the installed console script (or
the venv's interpreter calling ``overleg.cli.app.main``), configured only through
``OVERLEG_*`` environment variables, with the test's directory as working directory so no
``overleg.toml`` or ``./var`` of the checkout is picked up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_SCRIPT = Path(sys.executable).parent / "overleg"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: How long a child may take to start answering /readyz (a bound, not an assertion).
READY_WITHIN_SECONDS = 20.0
#: How long a stopped server gets between SIGTERM and SIGKILL.
STOP_WITHIN_SECONDS = 5.0
#: Upper bound for one CLI command.
CLI_TIMEOUT_SECONDS = 60.0


def overleg_command(*args: str) -> list[str]:
    """The argv that runs ``overleg ARGS`` with the interpreter running the tests."""
    if _SCRIPT.is_file():
        return [str(_SCRIPT), *args]
    return [sys.executable, "-c", "from overleg.cli.app import main; main()", *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _bytecode_dir(request: pytest.FixtureRequest) -> Path:
    """Where the children keep their bytecode: pytest's cache (it outlives the session), or
    the session's temporary directory when the cache plugin is off."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("e2e-bytecode"))
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    return factory.getbasetemp() / "e2e-bytecode"


def plain(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Install:
    """One installation: a data directory, a port and the environment to run it with."""

    home: Path
    data_dir: Path
    port: int
    env: dict[str, str]

    @classmethod
    def create(cls, home: Path, request: pytest.FixtureRequest) -> Install:
        """An installation under ``home`` (the working directory of every child)."""
        port = free_port()
        data_dir = home / "data"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("OVERLEG_") and k != "FORCE_COLOR"
        }
        env |= {
            "OVERLEG_DATA_DIR": str(data_dir),
            "OVERLEG_HOST": "127.0.0.1",
            "OVERLEG_PORT": str(port),
            "OVERLEG_ARGON2_TIME_COST": "1",
            "OVERLEG_ARGON2_MEMORY_KIB": "8",
            "OVERLEG_ARGON2_PARALLELISM": "1",
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
        if env.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in env:
            # Without bytecode every child compiles the whole application again (seconds
            # each). Let them keep it, but apart from the sources.
            del env["PYTHONDONTWRITEBYTECODE"]
            env["PYTHONPYCACHEPREFIX"] = str(_bytecode_dir(request))
        return cls(home=home, data_dir=data_dir, port=port, env=env)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``overleg ARGS`` to the end; stdout and stderr are returned without colours."""
        done = subprocess.run(
            overleg_command(*args),
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, plain(done.stdout), plain(done.stderr)
        )

    @contextmanager
    def serving(self, *args: str, tls: Path | None = None) -> Iterator[Server]:
        """``overleg serve ARGS`` until the block ends; ready (GET /readyz is 200) on entry.

        ``tls``: the certificate to trust; the server is then reached over https. If the
        block fails, the server's output is printed (pytest shows it with the failure).
        """
        scheme = "https" if tls else "http"
        base_url = f"{scheme}://127.0.0.1:{self.port}"
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=tls) if tls else True
        out_path = self.home / f"serve-{self.port}.out"
        err_path = self.home / f"serve-{self.port}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                overleg_command("serve", *args),
                cwd=self.home,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        server = Server(process, base_url, verify, out_path, err_path)
        try:
            with server.reporting():
                server.wait_ready()
                yield server
        finally:
            server.stop()


@dataclass
class Server:
    """A running ``overleg serve`` child."""

    process: subprocess.Popen[bytes]
    base_url: str
    verify: ssl.SSLContext | bool
    out_path: Path
    err_path: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.verify, timeout=10.0)

    def stdout(self) -> str:
        return plain(self.out_path.read_text(errors="replace"))

    def stderr(self) -> str:
        return plain(self.err_path.read_text(errors="replace"))

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """If the block fails, print the server's output so far (pytest shows it)."""
        try:
            yield
        except BaseException:
            code = self.process.poll()
            state = "running" if code is None else f"exit {code}"
            print(f"--- overleg serve ({state}) stdout ---\n{self.stdout()}")
            print(f"--- overleg serve stderr ---\n{self.stderr()}")
            raise

    def wait_ready(self) -> None:
        """Poll GET /readyz until it answers 200; fail if the child exits or takes too long."""
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        last = "no answer yet"
        with self.client() as c:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"overleg serve exited with {self.process.returncode} before it was ready"
                    )
                try:
                    r = c.get("/readyz", timeout=2.0)
                    if r.status_code == 200:
                        return
                    last = f"{r.status_code} {r.text}"
                except httpx.TransportError as e:
                    last = f"{type(e).__name__}: {e}"
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"overleg serve not ready after {READY_WITHIN_SECONDS:.0f} s ({last})"
                    )
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it is still running after a few seconds. Idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_WITHIN_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()
