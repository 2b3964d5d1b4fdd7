"""TLS for the webhook port: a listening `SSLContext` whose certificate follows rotation.

uvicorn's `--ssl-certfile` loads the files once at start (kserve #6093), so a rotated
certificate (cert-manager renewing a Secret, kubelet swapping the mounted `..data`
symlink) would need a restart. Instead the server is given `ReloadingContext.context`,
and `reload_if_changed()` — called periodically by the serve loop — re-reads the files
when their bytes change.

Each good pair is loaded into a *fresh* `SSLContext`, never into the live one: an
`SSLContext` keeps one certificate per key type, so loading an RSA pair into a context
that holds an ECDSA one would keep both, and TLS 1.3 clients (which prefer ECDSA) would go
on getting the old certificate. The listening context's `sni_callback`, which OpenSSL
calls on every ClientHello (with or without a server name), moves each new connection
onto the context of the latest good pair. Connections already open, and the requests in
flight on them, keep the context they were made with; nothing restarts.

A half-written rotation (new certificate, old key) never serves: the pair must load as a
whole into its fresh context, and the files must read the same after loading as before,
or the previous pair keeps serving and the error is kept for `/readyz`.

The fingerprint shown (`/readyz`, the log) is the SHA-256 of the leaf certificate's DER
bytes, as `openssl x509 -noout -fingerprint -sha256` prints it: comparable with the
Secret's certificate, and nothing about the private key.
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class CertificateError(Exception):
    """The certificate or key files cannot be read or do not form a usable pair."""


@dataclass(frozen=True, slots=True)
class Status:
    """What `/readyz` says about the serving certificate."""

    loaded_at: datetime
    fingerprint: str
    """SHA-256 of the serving (leaf) certificate's DER bytes, colon-separated hex as
    `openssl x509 -fingerprint -sha256` prints it; changes on rotation."""
    error: str | None = None
    """Why the latest rotation attempt was refused (the previous pair keeps serving)."""


def new_server_context() -> ssl.SSLContext:
    """A server context with costwarden's floor: TLS 1.2 (the API server speaks 1.2/1.3)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 of the first certificate in `pem` (the leaf of a chain file), over its DER
    bytes, as `AB:CD:…` (raises ValueError when `pem` holds no certificate)."""
    match = PEM_CERTIFICATE.search(pem)
    if match is None:
        raise ValueError("no PEM certificate")
    try:
        der = ssl.PEM_cert_to_DER_cert(match.group().decode("ascii"))
    except (UnicodeDecodeError, binascii.Error) as exc:
        raise ValueError(f"the first PEM certificate is not base64: {exc}") from None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@dataclass(frozen=True, slots=True)
class _Files:
    digest: bytes
    """Of both files' bytes: tells a change, never shown."""
    fingerprint: str


def _read(cert_file: Path, key_file: Path) -> _Files:
    contents = []
    for path in (cert_file, key_file):
        try:
            contents.append(path.read_bytes())
        except OSError as exc:
            raise CertificateError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        fingerprint = certificate_fingerprint(contents[0])
    except ValueError as exc:
        raise CertificateError(f"cannot load certificate {cert_file}: {exc}") from None
    digest = hashlib.sha256(contents[0] + b"\0" + contents[1]).digest()
    return _Files(digest=digest, fingerprint=fingerprint)


def _load_pair(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A fresh server context serving the pair."""
    context = new_server_context()
    try:
        context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(
            f"cannot load certificate {cert_file} with key {key_file}: {exc}"
        ) from exc
    return context


class ReloadingContext:
    """The webhook port's TLS: `context` listens, each new connection is served by
    `current`, the context of the latest good pair."""

    def __init__(self, *, cert_file: Path, key_file: Path) -> None:
        """Load the pair now; raises `CertificateError` naming the files if it is unusable."""
        self.cert_file = cert_file
        self.key_file = key_file
        files = _read(cert_file, key_file)
        self.current = _load_pair(cert_file, key_file)
        self._files = files
        self.status = Status(loaded_at=datetime.now(UTC), fingerprint=files.fingerprint)
        # The listening context serves the first pair itself too, but the callback hands
        # every connection to `current` before a certificate is chosen.
        self.context = _load_pair(cert_file, key_file)
        self.context.sni_callback = self._serve_current

    def _serve_current(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object
    ) -> None:
        connection.context = self.current

    def reload_if_changed(self) -> bool:
        """Serve the files from a fresh context if their bytes changed; True if it did.

        Never raises: a refused rotation is recorded in `status.error` and the previous
        certificate keeps serving (the files are tried again on the next call).
        """
        try:
            files = _read(self.cert_file, self.key_file)
            if files.digest == self._files.digest:
                return False
            context = _load_pair(self.cert_file, self.key_file)
            if _read(self.cert_file, self.key_file).digest != files.digest:
                return False  # changed while loading: what loaded may be neither; next time
        except CertificateError as exc:
            self.status = Status(
                loaded_at=self.status.loaded_at,
                fingerprint=self.status.fingerprint,
                error=str(exc),
            )
            return False
        self.current, self._files = context, files
        self.status = Status(loaded_at=datetime.now(UTC), fingerprint=files.fingerprint)
        return True


def write_self_signed(
    directory: Path, *, hosts: tuple[str, ...], days: int = 1
) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for `hosts` (IP addresses or DNS names), for
    `costwarden serve --demo`. Returns (cert file, key file).

    Needs the `cryptography` package (installed with costwarden's dev extras); raises
    ImportError without it. Never for a cluster: there cert-manager or the chart's own
    CA issues the certificate the API server trusts.
    """
    # Imported here: only the demo needs it, and it is not a runtime dependency.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "costwarden demo")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file
