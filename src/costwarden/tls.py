"""TLS for the webhook port: one server `SSLContext` whose certificate follows rotation.

uvicorn's `--ssl-certfile` loads the files once at start (kserve #6093), so a rotated
certificate (cert-manager renewing a Secret, kubelet swapping the mounted `..data`
symlink) would need a restart. Instead the server is given this context, and
`ReloadingContext.reload_if_changed()` — called periodically by the serve loop — re-reads
the files when their bytes change. OpenSSL copies the certificate into each connection
when the connection is created, so loading a new chain into the same context changes
what *new* handshakes present while connections already open, and the requests in flight
on them, carry on untouched. Nothing restarts.

A half-written rotation (new certificate, old key) must never reach the live context: the
pair is first loaded into a scratch context, and only when that succeeds into the live
one. Until then the previous certificate keeps serving and the error is kept for
`/readyz`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path


class CertificateError(Exception):
    """The certificate or key files cannot be read or do not form a usable pair."""


@dataclass(frozen=True, slots=True)
class Status:
    """What `/readyz` says about the serving certificate."""

    loaded_at: datetime
    fingerprint: str
    """SHA-256 of the certificate and key files' bytes, shortened; changes on rotation."""
    error: str | None = None
    """Why the latest rotation attempt was refused (the previous pair keeps serving)."""


def new_server_context() -> ssl.SSLContext:
    """A server context with costwarden's floor: TLS 1.2 (the API server speaks 1.2/1.3)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _fingerprint(cert_file: Path, key_file: Path) -> str:
    digest = hashlib.sha256()
    for path in (cert_file, key_file):
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            raise CertificateError(f"cannot read {path}: {exc.strerror or exc}") from exc
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _load_pair(context: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
    try:
        context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(
            f"cannot load certificate {cert_file} with key {key_file}: {exc}"
        ) from exc


class ReloadingContext:
    """The webhook port's `SSLContext`, re-loaded in place when the files change."""

    def __init__(self, *, cert_file: Path, key_file: Path) -> None:
        """Load the pair now; raises `CertificateError` naming the files if it is unusable."""
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = new_server_context()
        fingerprint = _fingerprint(cert_file, key_file)
        _load_pair(self.context, cert_file, key_file)
        self.status = Status(loaded_at=datetime.now(UTC), fingerprint=fingerprint)

    def reload_if_changed(self) -> bool:
        """Load the files into the live context if their bytes changed; True if it did.

        Never raises: a refused rotation is recorded in `status.error` and the previous
        certificate keeps serving.
        """
        try:
            fingerprint = _fingerprint(self.cert_file, self.key_file)
            if fingerprint == self.status.fingerprint:
                return False
            _load_pair(new_server_context(), self.cert_file, self.key_file)  # a dry run
            _load_pair(self.context, self.cert_file, self.key_file)
        except CertificateError as exc:
            self.status = Status(
                loaded_at=self.status.loaded_at,
                fingerprint=self.status.fingerprint,
                error=str(exc),
            )
            return False
        self.status = Status(loaded_at=datetime.now(UTC), fingerprint=fingerprint)
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
