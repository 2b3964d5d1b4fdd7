"""The three certificate sources each give the API server a CA that verifies the serving
certificate the pods mount."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from tests.chart.conftest import (
    CHART,
    NAMESPACE,
    Objects,
    Render,
    load_values,
    of_kind,
    only,
    webhooks,
)

SERVICE_HOST = f"costwarden.{NAMESPACE}.svc"


def mounted_secret(objects: Objects) -> str:
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    name: str = volume["secret"]["secretName"]
    return name


def verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    key = issuer.public_key()
    assert cert.signature_hash_algorithm is not None
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )


def test_generated_ca_verifies_the_generated_serving_certificate_for_the_service(
    defaults: Objects,
) -> None:
    (secret,) = of_kind(defaults, "Secret")
    assert secret["metadata"]["name"] == mounted_secret(defaults)
    assert secret["type"] == "kubernetes.io/tls"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    serving = x509.load_pem_x509_certificate(data["tls.crt"])
    verify_signed_by(serving, ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert SERVICE_HOST in names.get_values_for_type(x509.DNSName)
    lifetime = serving.not_valid_after_utc - serving.not_valid_before_utc
    assert lifetime >= datetime.timedelta(days=700)
    for hook in webhooks(defaults):
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == data["ca.crt"]
    assert b"PRIVATE KEY" in data["tls.key"]


def test_generated_certificate_validity_comes_from_values(render: Render) -> None:
    objects = render({"tls": {"selfSigned": {"validityDays": 30}}})
    (secret,) = of_kind(objects, "Secret")
    serving = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    lifetime = serving.not_valid_after_utc - serving.not_valid_before_utc
    assert datetime.timedelta(days=29) < lifetime <= datetime.timedelta(days=31)


def test_cert_manager_issues_the_mounted_secret_and_injects_its_ca(render: Render) -> None:
    objects = render(load_values(CHART / "ci" / "cert-manager-values.yaml"))
    certificate = only(objects, "Certificate")
    assert of_kind(objects, "Secret") == []
    assert certificate["spec"]["secretName"] == mounted_secret(objects)
    assert SERVICE_HOST in certificate["spec"]["dnsNames"]
    expected = f"{NAMESPACE}/{certificate['metadata']['name']}"
    configs = of_kind(objects, "ValidatingWebhookConfiguration") + of_kind(
        objects, "MutatingWebhookConfiguration"
    )
    assert len(configs) == 2
    for config in configs:
        assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == expected
    for hook in webhooks(objects):
        assert "caBundle" not in hook["clientConfig"]


def test_cert_manager_uses_a_given_cluster_issuer_instead_of_creating_one(render: Render) -> None:
    objects = render(load_values(CHART / "ci" / "cluster-issuer-values.yaml"))
    assert of_kind(objects, "Issuer") == []
    assert only(objects, "Certificate")["spec"]["issuerRef"] == {
        "name": "internal-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }


def test_an_existing_secret_is_mounted_and_its_ca_bundle_given_to_the_api_server(
    render: Render,
) -> None:
    values = load_values(CHART / "ci" / "existing-secret-values.yaml")
    objects = render(values)
    assert of_kind(objects, "Secret") == []
    assert of_kind(objects, "Certificate") == []
    assert mounted_secret(objects) == "costwarden-serving-cert"
    for hook in webhooks(objects):
        assert (
            base64.b64decode(hook["clientConfig"]["caBundle"]).decode() == values["tls"]["caBundle"]
        )
