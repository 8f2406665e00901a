"""``overleg serve --cert --key`` serves HTTPS itself, against a real process.

A self-signed certificate for localhost / 127.0.0.1 is made in the test's directory; the
client trusts exactly that certificate.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.server import Install, Server

ADMIN = "admin@demo.example"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate (and its key) for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(frozen=True)
class Https:
    site: Install
    server: Server
    one_time_password: str


@pytest.fixture(scope="module")
def https(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Https]:
    """``overleg init``, then ``overleg serve --cert C --key K`` for the whole module."""
    home = tmp_path_factory.mktemp("tls")
    site = Install.create(home, request)
    cert, key = _self_signed(home)
    init = site.run("init")
    assert init.returncode == 0, init.stderr
    found = re.search(r"^\s*password:\s+(\S+)", init.stdout, re.M)
    assert found, init.stdout
    with site.serving("--cert", str(cert), "--key", str(key), tls=cert) as server:
        yield Https(site, server, found.group(1))


def test_health_answers_over_https_with_hsts(https: Https) -> None:
    with https.server.reporting(), https.server.client() as c:
        assert f"https://127.0.0.1:{https.site.port}/" in https.server.stdout()  # the URL
        r = c.get("/healthz")
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ok"}
        assert r.url.scheme == "https"
        hsts = r.headers.get("strict-transport-security", "")
        max_age = re.match(r"max-age=(\d+)", hsts)
        assert max_age, r.headers
        assert int(max_age.group(1)) >= 31_536_000  # a year or more


def test_the_certificate_is_checked(https: Https) -> None:
    """A client that does not trust the certificate gets no answer: TLS is really on."""
    with (
        https.server.reporting(),
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        httpx.get(f"https://127.0.0.1:{https.site.port}/healthz", timeout=5.0)


def test_plain_http_on_the_https_port_gets_no_answer(https: Https) -> None:
    with https.server.reporting():
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{https.site.port}/healthz", timeout=5.0)
        with https.server.client() as c:  # and the server still serves https afterwards
            assert c.get("/healthz").status_code == 200


def test_session_cookie_is_secure_over_https(https: Https) -> None:
    """A session cookie set over https must never be sent back over plain http."""
    with https.server.reporting(), https.server.client() as c:
        r = c.post(
            "/api/v1/auth/sign-in", json={"email": ADMIN, "password": https.one_time_password}
        )
        assert r.status_code == 200, r.text
        assert "strict-transport-security" in r.headers
        cookie = r.headers.get("set-cookie", "")
        assert cookie.startswith("overleg_session="), r.headers
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert "httponly" in attributes, cookie
        assert "secure" in attributes, f"session cookie without Secure over https: {cookie}"


def test_serve_with_cert_but_no_key_is_refused(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    site = Install.create(tmp_path, request)
    cert, _ = _self_signed(tmp_path)
    done = site.run("serve", "--cert", str(cert))
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    assert "--key" in lines[0], done.stderr
    assert "serving" not in done.stdout, done.stdout
