"""What `/readyz` tells anything that reaches the operations port: which files are loaded
and why a reload failed, by names relative to their mount — never the absolute paths —
and the serving certificate's fingerprint, never anything hashed from the key."""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
from pathlib import Path
from typing import Any

import httpx
import trustme
from webhook_support import (
    NAMESPACES,
    ConfigMapVolume,
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    local_settings,
    running,
    wait_until,
)

from costwarden import tls

ABSOLUTE = re.compile(r"(?<![\w.:/])/[\w.-]+/")
"""The start of an absolute path in a JSON text (a URL's path has its host before it)."""


def readyz(port: int) -> tuple[str, dict[str, Any]]:
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    return response.text, response.json()


def both_failures_shown(port: int) -> bool:
    _, detail = readyz(port)
    return bool(detail["sources"]["namespaces"]["error"] and detail["tls"]["error"])


def test_readyz_names_files_relative_to_their_mount_and_its_errors_do_too(tmp_path: Path) -> None:
    mount = tmp_path / "etc" / "costwarden"
    mount.mkdir(parents=True)
    labels = ConfigMapVolume(
        mount / "namespaces",
        {"train.yaml": json.dumps({"ml-train": NAMESPACES["ml-train"]}), "rest.yaml": "{}"},
    )
    ca = trustme.CA()
    (mount / "tls").mkdir()
    cert_file, key_file = mount / "tls" / "tls.crt", mount / "tls" / "tls.key"
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(cert_file)
    leaf.private_key_pem.write_to_path(key_file)
    settings = local_settings(
        insecure_http=False,
        tls_cert_file=cert_file,
        tls_key_file=key_file,
        tls_reload_interval_seconds=0.05,
        reload_interval_seconds=0.05,
    )
    app = build_app(
        tmp_path,
        ScriptedEvaluator(allow_with_estimate),
        settings=settings,
        namespace_paths=[labels.directory],
    )
    with running(app) as serving:
        text, detail = readyz(serving.metrics_port)
        assert detail["ready"] is True
        assert detail["sources"]["namespaces"]["files"] == ["rest.yaml", "train.yaml"]
        assert detail["tls"]["files"] == ["tls.crt", "tls.key"]
        assert str(tmp_path) not in text
        assert ABSOLUTE.search(text) is None, text

        # A broken reload and a refused rotation: each says which file, not where it is.
        labels.update({"train.yaml": "ml-train: [not, a, map]\n", "rest.yaml": "{}"})
        other = trustme.CA().issue_cert("127.0.0.1")
        other.private_key_pem.write_to_path(key_file)  # a key that does not match
        wait_until(lambda: both_failures_shown(serving.metrics_port), what="both failures to show")
        text, detail = readyz(serving.metrics_port)
        assert "train.yaml" in detail["sources"]["namespaces"]["error"]
        assert "tls.crt" in detail["tls"]["error"]
        assert str(tmp_path) not in text
        assert ABSOLUTE.search(text) is None, text
        assert detail["tls"]["fingerprint"] == tls.certificate_fingerprint(
            leaf.cert_chain_pems[0].bytes()
        )


def test_the_fingerprint_changes_with_the_certificate_and_never_with_the_key(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(cert_file)
    leaf.private_key_pem.write_to_path(key_file)
    context = tls.ReloadingContext(cert_file=cert_file, key_file=key_file)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    expected = tls.certificate_fingerprint(leaf.cert_chain_pems[0].bytes())
    assert context.status.fingerprint == expected
    assert expected.replace(":", "").lower() == hashlib.sha256(der).hexdigest()
    # The same key re-encoded (another PEM layout): nothing to serve differently, and the
    # fingerprint, which never saw the key, stays.
    key_file.write_bytes(key_file.read_bytes().replace(b"\n", b"\r\n"))
    assert context.reload_if_changed() is True
    assert context.status.fingerprint == expected
    assert os.fspath(key_file) not in repr(context.status)
