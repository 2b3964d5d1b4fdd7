"""Where `serve --in-cluster` / `--kubeconfig` finds its API server and credentials, read by
the kubernetes client's own kubeconfig and service-account loaders (no API server is
contacted): the order (flag, `KUBECONFIG`, the pod's service account, `~/.kube/config`),
what each yields — host, CA, token or client certificate — and a one-line error naming the
file for every way a kubeconfig can be unusable, from the library and from the CLI."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from costwarden import settings
from costwarden.kube import clients

SERVER = "https://203.0.113.10:6443"
OTHER_SERVER = "https://k8s.example.org:443"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(path: Path, *, ca: trustme.CA, current: str | None = "prod", **extra: Any) -> Path:
    """A kubeconfig of two contexts: prod (token, CA data) and dev (client certificate,
    TLS not verified)."""
    client_cert = ca.issue_cert("costwarden@dev")
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "prod",
                "cluster": {
                    "server": SERVER,
                    "certificate-authority-data": b64(ca.cert_pem.bytes()),
                },
            },
            {"name": "dev", "cluster": {"server": OTHER_SERVER, "insecure-skip-tls-verify": True}},
        ],
        "users": [
            {"name": "bot", "user": {"token": "prod-token"}},
            {
                "name": "me",
                "user": {
                    "client-certificate-data": b64(client_cert.cert_chain_pems[0].bytes()),
                    "client-key-data": b64(client_cert.private_key_pem.bytes()),
                },
            },
        ],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod", "user": "bot"}},
            {"name": "dev", "context": {"cluster": "dev", "user": "me"}},
        ],
        **({"current-context": current} if current else {}),
        **extra,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def authorization(credentials: clients.Credentials) -> str | None:
    """The Authorization header the client would send."""
    for setting in credentials.configuration.auth_settings().values():
        if setting["key"] == "authorization":
            value: str = setting["value"]
            return value
    return None


def service_account(directory: Path, *, ca: trustme.CA) -> Path:
    directory.mkdir()
    (directory / "token").write_text("pod-token")
    ca.cert_pem.write_to_path(directory / "ca.crt")
    return directory


IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_a_kubeconfig_gives_its_current_contexts_server_ca_and_token(
    tmp_path: Path, ca: trustme.CA
) -> None:
    path = kubeconfig(tmp_path / "config", ca=ca)
    found = clients.find_credentials(kubeconfig=path, environ={}, home=tmp_path)
    assert found.host == SERVER
    assert found.source == f"kubeconfig {path}"
    assert authorization(found) == "Bearer prod-token"
    assert found.configuration.verify_ssl is True
    assert Path(found.configuration.ssl_ca_cert).read_bytes() == ca.cert_pem.bytes()
    core = clients.connect(found).core_v1
    assert core.api_client.configuration.host == SERVER


def test_a_kube_context_picks_another_cluster_and_user(tmp_path: Path, ca: trustme.CA) -> None:
    path = kubeconfig(tmp_path / "config", ca=ca)
    found = clients.find_credentials(kubeconfig=path, context="dev", environ={}, home=tmp_path)
    assert found.host == OTHER_SERVER
    assert found.source == f"kubeconfig {path} (context dev)"
    assert authorization(found) is None
    assert found.configuration.verify_ssl is False
    assert b"BEGIN CERTIFICATE" in Path(found.configuration.cert_file).read_bytes()
    assert b"PRIVATE KEY" in Path(found.configuration.key_file).read_bytes()


def test_credentials_are_found_in_kubectls_order_with_the_pods_service_account(
    tmp_path: Path, ca: trustme.CA
) -> None:
    flag = kubeconfig(tmp_path / "flag", ca=ca)
    listed = kubeconfig(tmp_path / "listed", ca=ca, current="dev")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    kubeconfig(home / ".kube" / "config", ca=ca, current="dev")
    account = service_account(tmp_path / "sa", ca=ca)

    def found(environ: dict[str, str], **given: Any) -> clients.Credentials:
        return clients.find_credentials(
            environ=environ, home=home, service_account=account, **given
        )

    everything = {**IN_A_POD, "KUBECONFIG": f"{tmp_path / 'missing'}:{listed}"}
    assert found(everything, kubeconfig=flag).source == f"kubeconfig {flag}"
    # KUBECONFIG's missing files are skipped, as kubectl skips them.
    assert found(everything).source == f"kubeconfig KUBECONFIG={everything['KUBECONFIG']}"
    assert found(everything).host == OTHER_SERVER
    in_pod = found(IN_A_POD)
    assert in_pod.source == "service account"
    assert in_pod.host == "https://10.96.0.1:443"
    # The scheme is case-insensitive (RFC 9110); the in-cluster loader writes "bearer".
    assert (authorization(in_pod) or "").casefold() == "bearer pod-token"
    assert in_pod.configuration.ssl_ca_cert == str(account / "ca.crt")
    outside = found({})
    assert outside.source == f"kubeconfig {home / '.kube' / 'config'}"
    assert outside.host == OTHER_SERVER


def one_line_error(tmp_path: Path, **given: Any) -> str:
    with pytest.raises(clients.ConfigurationError) as raised:
        clients.find_credentials(home=tmp_path / "nobody", **{"environ": {}, **given})
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_every_unusable_kubeconfig_is_one_line_naming_the_file(
    tmp_path: Path, ca: trustme.CA
) -> None:
    missing = tmp_path / "missing"
    assert one_line_error(tmp_path, kubeconfig=missing) == f"--kubeconfig {missing}: no such file"

    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    message = one_line_error(tmp_path, kubeconfig=broken)
    assert message.startswith(f"kubeconfig {broken}: not YAML:")
    assert "line 2" in message

    good = kubeconfig(tmp_path / "config", ca=ca)
    message = one_line_error(tmp_path, kubeconfig=good, context="staging")
    assert message.startswith(f"kubeconfig {good}:")
    assert "staging" in message

    no_current = kubeconfig(tmp_path / "no-current", ca=ca, current=None)
    message = one_line_error(tmp_path, kubeconfig=no_current)
    assert message.startswith(f"kubeconfig {no_current}:")
    assert "current-context" in message

    bad_ca = tmp_path / "bad-ca"
    document = yaml.safe_load(good.read_text())
    document["clusters"][0]["cluster"]["certificate-authority-data"] = b64(b"not a certificate")
    bad_ca.write_text(yaml.safe_dump(document))
    message = one_line_error(tmp_path, kubeconfig=bad_ca)
    assert message.startswith(f"kubeconfig {bad_ca}: its certificate-authority does not load")

    listed = f"{missing}:{tmp_path / 'also-missing'}"
    assert (
        one_line_error(tmp_path, environ={"KUBECONFIG": listed})
        == f"KUBECONFIG={listed}: names no file that exists"
    )

    message = one_line_error(tmp_path)
    assert message.startswith("no Kubernetes credentials: give --kubeconfig, set KUBECONFIG")
    assert str(tmp_path / "nobody" / ".kube" / "config") in message

    empty_account = tmp_path / "empty-sa"
    empty_account.mkdir()
    message = one_line_error(tmp_path, environ=IN_A_POD, service_account=empty_account)
    assert message.startswith("the pod's service account:")


def test_serve_with_a_broken_kubeconfig_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "costwarden", "serve", "--insecure-http", "--kubeconfig", broken],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: kubeconfig {broken}: not YAML: expected the node content, but found "
        "'<stream end>' at line 2"
    ]


def test_a_kubeconfig_or_context_implies_watching_the_cluster() -> None:
    assert settings.load(flags={"kubeconfig": "/k"}, environ={}).in_cluster is True
    assert settings.load(flags={}, environ={"COSTWARDEN_KUBE_CONTEXT": "dev"}).in_cluster is True
    assert settings.load(flags={}, environ={}).in_cluster is False
    with pytest.raises(settings.SettingsError, match="cannot go with --no-in-cluster"):
        settings.load(flags={"kubeconfig": "/k", "in_cluster": False}, environ={})
