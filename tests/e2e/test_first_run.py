"""The README's first run, as an admin does it, against real processes.

``overleg init`` creates the data directory and the demo organisation and prints a one-time
password; ``overleg serve`` serves it; over real HTTP the admin signs in with the printed
credentials, sets up an authenticator app, chooses a password, signs in again with the
second factor and reaches the admin API. A second ``overleg init`` prints no password, and
``overleg audit verify`` finds every chain intact afterwards. SQLite (the default).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from overleg.security.authn.totp import PERIOD, code_at
from tests.e2e.server import Install

ADMIN = "admin@demo.example"
NEW_PASSWORD = "correct horse battery staple 42"
PROBLEM = "application/problem+json"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _problem_type(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith(PROBLEM), r.text
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def test_first_run_init_serve_sign_in_and_admin(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    site = Install.create(tmp_path, request)

    # --- overleg init: data directory, e-mail, one-time password ----------------------------
    first = site.run("init")
    assert first.returncode == 0, first.stderr
    assert f"data directory: {site.data_dir.resolve()}" in first.stdout
    assert re.search(rf"e-mail:\s+{re.escape(ADMIN)}\s*$", first.stdout, re.M), first.stdout
    found = re.search(r"^\s*password:\s+(\S+)", first.stdout, re.M)
    assert found, first.stdout
    one_time = found.group(1)
    assert len(one_time) >= 12
    assert (site.data_dir / "overleg.db").is_file()
    for private in (site.data_dir, site.data_dir / "master.key", site.data_dir / "keyring.json"):
        assert private.stat().st_mode & 0o077 == 0, private.name  # no access for others

    with site.serving() as server:
        assert f"http://127.0.0.1:{site.port}/" in server.stdout()  # serve prints the URL
        with server.client() as c:
            # --- first sign-in: the one-time password works, nothing else does yet ----------
            r = c.post("/api/v1/auth/sign-in", json={"email": ADMIN, "password": one_time})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "mfa_enrolment_required"
            assert body["must_change_password"] is True
            assert "strict-transport-security" not in r.headers  # plain http: no HSTS
            t1 = body["token"]

            r = c.get("/api/admin/users", headers=_bearer(t1))
            assert r.status_code == 401, r.text
            assert _problem_type(r) == "mfa-required"

            # --- set up the authenticator app ---------------------------------------------
            r = c.post("/api/v1/me/mfa/totp", headers=_bearer(t1))
            assert r.status_code == 200, r.text
            enrolment = r.json()
            secret = enrolment["secret"]
            assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
            r = c.post(
                "/api/v1/me/mfa/totp/activate",
                headers=_bearer(t1),
                json={"code": code_at(secret, datetime.now(UTC))},
            )
            assert r.status_code == 200, r.text
            recovery_codes = r.json()["codes"]
            assert recovery_codes
            assert len(set(recovery_codes)) == len(recovery_codes)

            # second factor given, but the one-time password must still be replaced
            r = c.get("/api/admin/users", headers=_bearer(t1))
            assert r.status_code == 403, r.text
            assert r.json().get("next") == "change_password"

            # --- choose a password --------------------------------------------------------
            r = c.post(
                "/api/v1/me/password",
                headers=_bearer(t1),
                json={"current_password": one_time, "new_password": NEW_PASSWORD},
            )
            assert r.status_code == 200, r.text

            # the one-time password is spent
            r = c.post("/api/v1/auth/sign-in", json={"email": ADMIN, "password": one_time})
            assert r.status_code == 401, r.text
            assert _problem_type(r) == "unauthenticated"

            # --- second sign-in: password, then the code ----------------------------------
            r = c.post("/api/v1/auth/sign-in", json={"email": ADMIN, "password": NEW_PASSWORD})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "mfa_required"
            assert body["must_change_password"] is False
            t2 = body["token"]

            r = c.get("/api/admin/users", headers=_bearer(t2))
            assert r.status_code == 401, r.text
            assert _problem_type(r) == "mfa-required"

            # the code of this time step may already have been used to activate the app:
            # take the next step's (the server accepts one step either side)
            code = code_at(secret, datetime.now(UTC) + PERIOD)
            r = c.post("/api/v1/auth/mfa", headers=_bearer(t2), json={"code": code})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "signed_in"
            t3 = body["token"]
            assert t3 != t2

            # the pre-MFA token stopped working
            r = c.get("/api/v1/me", headers=_bearer(t2))
            assert r.status_code == 401, r.text

            r = c.get("/api/v1/me", headers=_bearer(t3))
            assert r.status_code == 200, r.text
            me = r.json()
            assert me["email"] == ADMIN
            assert me["mfa_enabled"] is True
            assert me["must_change_password"] is False

            # --- the admin API -------------------------------------------------------------
            r = c.get("/api/admin/users", headers=_bearer(t3))
            assert r.status_code == 200, r.text
            assert r.headers["cache-control"] == "no-store"
            users = {u["email"]: u for u in r.json()}
            assert ADMIN in users, users
            assert "global_admin" in users[ADMIN]["admin_roles"]
            assert users[ADMIN]["mfa_enabled"] is True

            # the same code is refused a second time (replay)
            r = c.post("/api/v1/auth/sign-in", json={"email": ADMIN, "password": NEW_PASSWORD})
            assert r.status_code == 200, r.text
            t4 = r.json()["token"]
            r = c.post("/api/v1/auth/mfa", headers=_bearer(t4), json={"code": code})
            assert r.status_code == 401, r.text

        # --- a second init reuses everything and prints no password ---------------------
        again = site.run("init")
        assert again.returncode == 0, again.stderr
        assert "password" not in again.stdout.lower(), again.stdout
        assert one_time not in again.stdout
        assert "Existing data reused" in again.stdout

        # the new password still works after the second init: nothing was reset
        with server.client() as c:
            r = c.post("/api/v1/auth/sign-in", json={"email": ADMIN, "password": NEW_PASSWORD})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "mfa_required"

    assert server.process.returncode is not None  # stopped

    # --- the server's logs are JSON lines with request ids, and hold no secret -----------
    entries = [json.loads(ln) for ln in server.stderr().splitlines() if ln.strip()]
    requests = [e for e in entries if e["event"] == "request"]
    assert len(requests) >= 10 and all(r["request_id"] for r in requests), entries[:5]
    assert any(e.get("logger", "").startswith("uvicorn") for e in entries)  # theirs too
    everything = server.stdout() + server.stderr()
    for secret_value in (one_time, NEW_PASSWORD, secret, t1, t2, t3, t4, *recovery_codes):
        assert secret_value not in everything

    # --- the audit chains are intact ------------------------------------------------------
    verified = site.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lines = [ln for ln in verified.stdout.splitlines() if ln.strip()]
    assert lines, verified.stdout
    assert all(": ok, " in ln for ln in lines), verified.stdout
    demo = next((ln for ln in lines if ln.startswith("demo: ")), None)
    assert demo is not None, verified.stdout
    # at least: four successful sign-ins, TOTP begin and activate, the password change and
    # the second factor
    count = re.search(r"ok, (\d+) records", demo)
    assert count, demo
    assert int(count.group(1)) >= 8, demo
