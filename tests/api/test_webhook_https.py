"""The webhook over real HTTPS on loopback: uvicorn in a thread, a trustme CA, real clients.

Covers what only a real server shows: TLS versions, certificate rotation while clients keep
sending, and the operations port (/healthz, /readyz, /metrics) over plain HTTP.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from webhook_support import (
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
    wait_until,
    webhook_of,
)

from costwarden import app as application

FIXTURES = fixture_paths()


class CertificateFiles:
    """A serving certificate mounted like a Kubernetes Secret volume: the visible files
    are symlinks through `..data`, which a rotation re-points atomically."""

    def __init__(self, directory: Path, ca: trustme.CA) -> None:
        self.directory = directory
        self.ca = ca
        self.generation = 0
        self.cert_file = directory / "tls.crt"
        self.key_file = directory / "tls.key"
        self.current = self.rotate()
        os.symlink("..data/tls.crt", self.cert_file)
        os.symlink("..data/tls.key", self.key_file)

    def rotate(self) -> trustme.LeafCert:
        self.generation += 1
        leaf = self.ca.issue_cert("127.0.0.1", common_name=f"generation-{self.generation}")
        target = self.directory / f"..generation_{self.generation}"
        target.mkdir()
        leaf.cert_chain_pems[0].write_to_path(target / "tls.crt")
        leaf.private_key_pem.write_to_path(target / "tls.key")
        link = self.directory / "..data_tmp"
        os.symlink(target.name, link)
        os.replace(link, self.directory / "..data")
        self.current = leaf
        return leaf


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def https_app(tmp_path: Path, ca: trustme.CA) -> tuple[application.App, CertificateFiles]:
    (tmp_path / "tls").mkdir()
    certificates = CertificateFiles(tmp_path / "tls", ca)
    settings = local_settings(
        insecure_http=False,
        tls_cert_file=certificates.cert_file,
        tls_key_file=certificates.key_file,
        tls_reload_interval_seconds=0.05,
    )
    return build_app(
        tmp_path, ScriptedEvaluator(allow_with_estimate), settings=settings
    ), certificates


@pytest.fixture
def served(
    https_app: tuple[application.App, CertificateFiles],
) -> Iterator[tuple[application.Serving, CertificateFiles]]:
    app, certificates = https_app
    with running(app) as serving:
        yield serving, certificates


def peer_certificate(port: int, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_socket,
    ):
        der = tls_socket.getpeercert(binary_form=True)
    assert der is not None
    return der


def der_of(leaf: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


def test_every_captured_review_is_answered_over_https_echoing_its_uid(
    served: tuple[application.Serving, CertificateFiles], client_context: ssl.SSLContext
) -> None:
    serving, _ = served
    base = f"https://127.0.0.1:{serving.webhook_port}"
    with httpx.Client(base_url=base, verify=client_context) as http:
        for path in FIXTURES:
            review = load_fixture(path)
            answer = http.post(f"/{webhook_of(path)}", json=review)
            assert answer.status_code == 200, path.name
            assert answer.json()["response"]["uid"] == review["request"]["uid"], path.name
    assert len(FIXTURES) == 68


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_the_webhook_port_speaks_tls_1_2_and_1_3_and_nothing_older_or_plain(
    served: tuple[application.Serving, CertificateFiles], ca: trustme.CA
) -> None:
    serving, _ = served
    port = serving.webhook_port
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context()
        ca.configure_trust(context)
        context.minimum_version = context.maximum_version = version
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_socket,
        ):
            assert (
                tls_socket.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
            )
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version, old.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{port}/validate", content=b"{}", timeout=10)


def test_a_rotated_certificate_serves_new_connections_while_clients_keep_sending(
    served: tuple[application.Serving, CertificateFiles], client_context: ssl.SSLContext
) -> None:
    serving, certificates = served
    port = serving.webhook_port
    base = f"https://127.0.0.1:{port}"
    review = load_fixture(next(p for p in FIXTURES if p.name.startswith("009-")))
    first = certificates.current
    assert peer_certificate(port, client_context) == der_of(first)

    stop = threading.Event()
    failures: list[str] = []
    answered = [0] * 6

    def keep_sending(index: int, *, reuse_connections: bool) -> None:
        limits = httpx.Limits(max_keepalive_connections=1 if reuse_connections else 0)
        with httpx.Client(base_url=base, verify=client_context, limits=limits) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/validate", json=review, timeout=30)
                    if answer.status_code != 200:
                        failures.append(f"HTTP {answer.status_code}")
                    answered[index] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    clients = [
        threading.Thread(target=keep_sending, args=(i,), kwargs={"reuse_connections": i % 2 == 0})
        for i in range(len(answered))
    ]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: min(answered) >= 3 or failures, what="every client mid-stream")
        second = certificates.rotate()
        app_tls = serving.app.tls
        assert app_tls is not None
        wait_until(
            lambda: peer_certificate(port, client_context) == der_of(second),
            what="new connections to see the new certificate",
        )
        before = list(answered)
        wait_until(  # every client keeps being answered after the rotation
            lambda: all(a > b + 2 for a, b in zip(answered, before, strict=True)) or failures,
            what="every client answered after the rotation",
        )
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert failures == []
    assert peer_certificate(port, client_context) == der_of(second)
    assert app_tls.status.error is None


def test_a_broken_rotation_keeps_the_previous_certificate_serving(
    served: tuple[application.Serving, CertificateFiles], client_context: ssl.SSLContext
) -> None:
    serving, certificates = served
    first = der_of(certificates.current)
    other = trustme.CA().issue_cert("127.0.0.1")
    target = certificates.directory / "..broken"
    target.mkdir()
    certificates.current.cert_chain_pems[0].write_to_path(target / "tls.crt")
    other.private_key_pem.write_to_path(target / "tls.key")  # a key that does not match
    os.symlink(target.name, certificates.directory / "..data_tmp")
    os.replace(certificates.directory / "..data_tmp", certificates.directory / "..data")
    tls_state = serving.app.tls
    assert tls_state is not None
    wait_until(lambda: tls_state.status.error is not None, what="the refused rotation")
    assert "cannot load certificate" in tls_state.status.error
    assert peer_certificate(serving.webhook_port, client_context) == first
    metrics = httpx.get(f"http://127.0.0.1:{serving.metrics_port}/metrics").text
    assert 'costwarden_policy_reload_success{source="tls"} 0.0' in metrics


def test_health_readiness_and_metrics_are_on_the_plain_http_port(
    served: tuple[application.Serving, CertificateFiles], client_context: ssl.SSLContext
) -> None:
    serving, _ = served
    base = f"http://127.0.0.1:{serving.metrics_port}"
    with httpx.Client(
        base_url=f"https://127.0.0.1:{serving.webhook_port}", verify=client_context
    ) as http:
        http.post("/validate", json=load_fixture(FIXTURES[9]))
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    detail: dict[str, Any] = ready.json()
    assert detail["ready"] is True
    assert detail["sources"]["namespaces"]["loaded"] is True
    assert detail["tls"]["error"] is None
    exposition = httpx.get(f"{base}/metrics")
    assert exposition.headers["content-type"].startswith("text/plain")
    assert "costwarden_admission_requests_total{" in exposition.text
    assert 'costwarden_policy_reload_success{source="namespaces"} 1.0' in exposition.text
    assert httpx.post(
        f"https://127.0.0.1:{serving.webhook_port}/healthz", verify=client_context
    ).status_code in (404, 405)


def test_listening_sockets_are_tcp_so_asyncio_disables_nagle_on_each_connection(
    served: tuple[application.Serving, CertificateFiles],
) -> None:
    serving, _ = served
    # asyncio sets TCP_NODELAY only on connections accepted from an IPPROTO_TCP socket;
    # without it every response waits for a delayed ACK (~40 ms).
    assert [sock.proto for sock in serving.sockets] == [socket.IPPROTO_TCP] * 2
