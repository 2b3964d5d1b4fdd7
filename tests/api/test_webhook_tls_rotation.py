"""Certificate rotation to another key type, over real HTTPS on loopback.

An `SSLContext` keeps one certificate per key type: loading an RSA pair into one that
serves an ECDSA pair keeps both, and a TLS 1.3 client (which prefers ECDSA) goes on
getting the old certificate. The server must present exactly the pair now on disk to every
new handshake — TLS 1.2 and 1.3, with a server name (as the API server connects, to the
Service's DNS name) and without one (an IP address) — while `/readyz` shows the
certificate's fingerprint as openssl prints it and nothing of where the files are.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tests.conftest import require
from webhook_support import (
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    local_settings,
    running,
    wait_until,
)

from costwarden import app as application

SERVICE_NAME = "costwarden.costwarden-system.svc"
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


class SecretVolume:
    """tls.crt / tls.key mounted as the kubelet mounts a Secret: symlinks through `..data`,
    re-pointed atomically at each rotation."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory
        self.generation = 0
        self.cert_file = directory / "tls.crt"
        self.key_file = directory / "tls.key"

    def mount(self, leaf: trustme.LeafCert) -> None:
        self.generation += 1
        target = self.directory / f"..2026_12_06_12_00_00.{self.generation}"
        target.mkdir()
        leaf.private_key_pem.write_to_path(target / "tls.key")
        for pem in leaf.cert_chain_pems:
            pem.write_to_path(target / "tls.crt", append=True)
        os.symlink(target.name, self.directory / "..data_tmp")
        os.replace(self.directory / "..data_tmp", self.directory / "..data")
        for name in ("tls.crt", "tls.key"):
            if not (self.directory / name).is_symlink():
                os.symlink(f"..data/{name}", self.directory / name)


def leaf_certificate(leaf: trustme.LeafCert) -> x509.Certificate:
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())


def openssl_fingerprint(path: Path) -> str:
    """What `openssl x509 -fingerprint -sha256` prints for the first certificate of `path`."""
    openssl = shutil.which("openssl")
    require(openssl is not None, what="openssl", install="apt-get install -y openssl")
    assert openssl is not None
    printed = subprocess.run(
        [openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return printed.strip().split("=", 1)[1]


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def presented(port: int, ca: trustme.CA, *, version: str, server_name: str) -> x509.Certificate:
    """The certificate a new handshake gets, pinned to one TLS version; the name is sent as
    SNI unless it is an IP address."""
    context = trusting(ca)
    context.minimum_version = context.maximum_version = VERSIONS[version]
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls_socket,
    ):
        assert tls_socket.version() == version
        der = tls_socket.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def rotating(tmp_path: Path, ca: trustme.CA) -> Iterator[tuple[application.Serving, SecretVolume]]:
    volume = SecretVolume(tmp_path / "tls")
    volume.mount(ca.issue_cert("127.0.0.1", SERVICE_NAME, key_type=trustme.KeyType.ECDSA))
    settings = local_settings(
        insecure_http=False,
        tls_cert_file=volume.cert_file,
        tls_key_file=volume.key_file,
        tls_reload_interval_seconds=0.05,
    )
    with running(
        build_app(tmp_path, ScriptedEvaluator(allow_with_estimate), settings=settings)
    ) as serving:
        yield serving, volume


def readyz_tls(serving: application.Serving) -> dict[str, object]:
    detail = httpx.get(f"http://127.0.0.1:{serving.metrics_port}/readyz", timeout=10).json()
    tls: dict[str, object] = detail["tls"]
    return tls


@pytest.mark.parametrize("server_name", ["127.0.0.1", SERVICE_NAME], ids=["no-sni", "sni"])
def test_rotating_ecdsa_to_rsa_to_ecdsa_presents_only_the_pair_on_disk(
    rotating: tuple[application.Serving, SecretVolume], ca: trustme.CA, server_name: str
) -> None:
    serving, volume = rotating
    port = serving.webhook_port
    with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusting(ca)) as http:
        assert http.post("/validate", content=b"{}").status_code == 400  # open across rotations
        for step, key_type in enumerate(
            [trustme.KeyType.RSA, trustme.KeyType.ECDSA, trustme.KeyType.RSA]
        ):
            leaf = ca.issue_cert("127.0.0.1", SERVICE_NAME, key_type=key_type)
            volume.mount(leaf)
            expected = leaf_certificate(leaf)
            fingerprint = openssl_fingerprint(volume.cert_file)
            wait_until(
                lambda: readyz_tls(serving)["fingerprint"] == fingerprint,  # noqa: B023
                what=f"rotation {step + 1} to {key_type.name} to load",
            )
            key_class = (
                rsa.RSAPublicKey if key_type is trustme.KeyType.RSA else ec.EllipticCurvePublicKey
            )
            for version in VERSIONS:
                got = presented(port, ca, version=version, server_name=server_name)
                assert got == expected, f"{version} after rotation {step + 1} to {key_type.name}"
                assert isinstance(got.public_key(), key_class)
            # The connection made before the rotations carries on.
            assert http.post("/validate", content=b"{}").status_code == 400
    assert readyz_tls(serving)["error"] is None


def test_readyz_fingerprint_is_the_certificates_as_openssl_prints_it_never_the_keys(
    rotating: tuple[application.Serving, SecretVolume], ca: trustme.CA
) -> None:
    serving, volume = rotating
    shown = readyz_tls(serving)
    assert shown["fingerprint"] == openssl_fingerprint(volume.cert_file)
    served = presented(serving.webhook_port, ca, version="TLSv1.3", server_name=SERVICE_NAME)
    assert shown["fingerprint"] == served.fingerprint(hashes.SHA256()).hex(":").upper()
    # A chain file (leaf, then its intermediate): the leaf's, the one the server presents.
    intermediate = ca.create_child_ca()
    chained = intermediate.issue_cert("127.0.0.1", SERVICE_NAME)
    assert len(chained.cert_chain_pems) == 2
    volume.mount(chained)
    leaf_fingerprint = leaf_certificate(chained).fingerprint(hashes.SHA256()).hex(":").upper()
    wait_until(
        lambda: readyz_tls(serving)["fingerprint"] == leaf_fingerprint, what="the chain to load"
    )
    assert leaf_fingerprint == openssl_fingerprint(volume.cert_file)
