"""The reloading SSLContext on its own: floor version, refusal of broken pairs, which pair
a new handshake gets."""

from __future__ import annotations

import contextlib
import gc
import ssl
import weakref
from pathlib import Path

import pytest
import trustme

from costwarden import tls


def write_pair(directory: Path, leaf: trustme.LeafCert) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    return cert, key


def test_the_context_refuses_anything_older_than_tls_1_2(tmp_path: Path) -> None:
    cert, key = write_pair(tmp_path, trustme.CA().issue_cert("127.0.0.1"))
    context = tls.ReloadingContext(cert_file=cert, key_file=key).context
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_missing_files_at_start_are_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(tls.CertificateError, match=r"tls\.crt"):
        tls.ReloadingContext(cert_file=tmp_path / "tls.crt", key_file=tmp_path / "tls.key")


def test_unchanged_files_are_not_reloaded_and_changed_ones_are(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    reloading = tls.ReloadingContext(cert_file=cert, key_file=key)
    assert reloading.reload_if_changed() is False
    before = reloading.status.fingerprint
    write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    assert reloading.reload_if_changed() is True
    assert reloading.status.fingerprint != before
    assert reloading.status.error is None


def test_a_half_written_rotation_is_refused_and_retried_until_it_is_whole(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    reloading = tls.ReloadingContext(cert_file=cert, key_file=key)
    first = reloading.status.fingerprint
    new = ca.issue_cert("127.0.0.1")
    new.cert_chain_pems[0].write_to_path(cert)  # the key is not there yet
    assert reloading.reload_if_changed() is False
    assert reloading.status.fingerprint == first
    assert reloading.status.error is not None
    new.private_key_pem.write_to_path(key)
    assert reloading.reload_if_changed() is True
    assert reloading.status.error is None


def test_the_demo_certificate_is_served_and_verifies_for_its_host(tmp_path: Path) -> None:
    cert, key = tls.write_self_signed(tmp_path, hosts=("127.0.0.1", "localhost"))
    server = tls.ReloadingContext(cert_file=cert, key_file=key).context
    client = ssl.create_default_context(cafile=cert)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_tls = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    server_tls = server.wrap_bio(to_server, to_client, server_side=True)
    for _ in range(10):  # drive both ends of the handshake through memory
        for end in (client_tls, server_tls):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
    assert client_tls.version() in ("TLSv1.2", "TLSv1.3")
    assert (key.stat().st_mode & 0o077) == 0


def test_a_certificate_file_without_a_certificate_is_refused_naming_it(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    reloading = tls.ReloadingContext(cert_file=cert, key_file=key)
    served = reloading.status.fingerprint
    ca.issue_cert("127.0.0.1").private_key_pem.write_to_path(cert)  # a key, no certificate
    assert reloading.reload_if_changed() is False
    assert reloading.status.fingerprint == served
    assert reloading.status.error == f"cannot load certificate {cert}: no PEM certificate"
    with pytest.raises(tls.CertificateError, match="no PEM certificate"):
        tls.ReloadingContext(cert_file=cert, key_file=key)


def test_every_new_handshake_is_served_by_the_latest_pair_not_the_listening_one(
    tmp_path: Path,
) -> None:
    """The listening context keeps the first pair; each rotation is a fresh context that the
    SNI callback hands the connection, with or without a server name."""
    ca = trustme.CA()
    cert, key = write_pair(tmp_path, ca.issue_cert("127.0.0.1", "webhook.example"))
    reloading = tls.ReloadingContext(cert_file=cert, key_file=key)
    listening = reloading.context
    for key_type in (trustme.KeyType.RSA, trustme.KeyType.ECDSA):
        leaf = ca.issue_cert("127.0.0.1", "webhook.example", key_type=key_type)
        write_pair(tmp_path, leaf)
        before = reloading.current
        assert reloading.reload_if_changed() is True
        assert reloading.current is not before
        assert reloading.context is listening
        expected = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
        for name in ("127.0.0.1", "webhook.example"):  # no SNI for an address; SNI for a name
            assert handshake(listening, ca, server_name=name) == expected


def handshake(server: ssl.SSLContext, ca: trustme.CA, *, server_name: str) -> bytes:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_tls = client.wrap_bio(to_client, to_server, server_hostname=server_name)
    server_tls = server.wrap_bio(to_server, to_client, server_side=True)
    for _ in range(10):  # drive both ends of the handshake through memory
        for end in (client_tls, server_tls):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
    der = client_tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_a_replaced_context_is_freed_once_its_connections_are(tmp_path: Path) -> None:
    """Rotations do not accumulate contexts: the listening context's callback keeps only the
    latest, and a connection keeps the one it was made with only while it lives."""
    ca = trustme.CA()
    cert, key = write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    reloading = tls.ReloadingContext(cert_file=cert, key_file=key)
    write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
    assert reloading.reload_if_changed() is True
    replaced = weakref.ref(reloading.current)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = reloading.context.wrap_bio(to_server, to_client, server_side=True)
    client_tls = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    for _ in range(10):
        for end in (client_tls, connection):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
    del end
    assert connection.context is replaced()  # served by the then-latest pair
    for _ in range(3):
        write_pair(tmp_path, ca.issue_cert("127.0.0.1"))
        assert reloading.reload_if_changed() is True
    gc.collect()
    assert replaced() is not None  # the open connection still holds it
    del connection, client_tls
    gc.collect()
    assert replaced() is None
