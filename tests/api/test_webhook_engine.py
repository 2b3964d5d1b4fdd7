"""The webhook with the real engine, bundled policies and catalog, end to end.

Over HTTPS for the wire, in-process for the command line. Complements the component tests
(which fix the verdict) by proving the composed whole answers every captured review, and
that its patches are valid RFC 6902 and idempotent.
"""

from __future__ import annotations

import base64
import gc
import json
import socket
import ssl
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest
import trustme
from webhook_support import (
    NAMESPACES,
    ConfigMapVolume,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
    wait_until,
    webhook_of,
)

from costwarden import app as application
from costwarden.cli import main
from costwarden.cli.serve import DEMO_SPEND, DemoSpend, demo_objects, read_demo_spend
from costwarden.documents import InvalidInput

FIXTURES = fixture_paths()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    settings = local_settings(insecure_http=False, tls_cert_file=cert, tls_key_file=key)
    app = application.create_app(settings, namespaces=application.StaticNamespaceLabels(NAMESPACES))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with running(app) as serving:
        yield serving, context


def test_every_captured_review_through_the_real_engine_over_https(served: Any) -> None:
    serving, context = served
    base = f"https://127.0.0.1:{serving.webhook_port}"
    with httpx.Client(base_url=base, verify=context) as http:
        for path in FIXTURES:
            review = load_fixture(path)
            answer = http.post(f"/{webhook_of(path)}", json=review)
            assert answer.status_code == 200, path.name
            response = answer.json()["response"]
            assert response["uid"] == review["request"]["uid"], path.name
            assert all(len(w) <= 120 for w in response.get("warnings", [])), path.name
            if not response["allowed"]:
                assert response["status"]["code"] == 403
                assert response["status"]["message"].startswith("["), path.name


@pytest.mark.parametrize(
    "path", [p for p in FIXTURES if webhook_of(p) == "mutate"], ids=lambda p: p.name
)
def test_real_patches_apply_with_jsonpatch_and_reinvocation_adds_nothing(
    served: Any, path: Path
) -> None:
    serving, context = served
    review = load_fixture(path)
    with httpx.Client(base_url=f"https://127.0.0.1:{serving.webhook_port}", verify=context) as http:
        first = http.post("/mutate", json=review).json()["response"]
        patch = json.loads(base64.b64decode(first["patch"])) if "patch" in first else []
        review["request"]["object"] = jsonpatch.apply_patch(review["request"]["object"], patch)
        second = http.post("/mutate", json=review).json()["response"]
    assert "patch" not in second, json.loads(base64.b64decode(second["patch"]))
    annotations = review["request"]["object"]["metadata"].get("annotations", {})
    assert "costwarden.io/hourly-cost" in annotations


def test_the_demo_serves_the_examples_over_https_and_prints_the_decisions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "(self-signed certificate, TLS >= 1.2)" in out
    assert out.count("validate: ") == len(demo_objects()) >= 8
    assert "None" not in out
    # patches as a reader writes the path, not as escaped JSON Pointers
    assert "add metadata.annotations[costwarden.io/hourly-cost] = " in out
    assert "~1" not in out
    # Budgets are checked against the embedded spend: Retail-2045 has spent its whole cap,
    # RnD-1001 is past 80 % of its own (whatever the day of the month).
    assert f"spend: {DEMO_SPEND}" in out
    denied = out.split("\nDeployment ml-infer/llama-neuron\n")[1].split("\n\n")[0]
    assert "validate: DENIED (403)" in denied
    assert "[cost-centre-monthly-budget] monthly budget of cost-centre=Retail-2045" in denied
    assert "spent $15,000.00" in denied
    assert "> cap $15,000.00" in denied
    warned = out.split("\nJob ml-dev/hparam-sweep\n")[1].split("\n\n")[0]
    assert "validate: ALLOWED" in warned
    assert "budget of cost-centre=RnD-1001 is nearly used" in warned
    assert "not checked" not in out
    # it ends with what the answers came to, counted from them
    summary = out.rstrip().splitlines()[-1]
    denials = out.count("validate: DENIED")
    assert summary.startswith(f"{len(demo_objects())} objects: {denials} denied, ")


def test_the_demo_spend_file_names_the_file_and_path_of_a_bad_figure(tmp_path: Path) -> None:
    bad = tmp_path / "spend.yaml"
    bad.write_text("budget:\n  Sales-5045: {spent: lots}\n")
    with pytest.raises(InvalidInput) as caught:
        read_demo_spend(bad)
    assert f"{bad}:2" in str(caught.value)
    assert "budget.Sales-5045.spent" in str(caught.value)
    spend = read_demo_spend(DEMO_SPEND)
    assert spend["cost-centre-monthly-budget"]["Retail-2045"].spent == Decimal("15000")


def test_the_demo_spend_hands_out_one_snapshot_until_it_refreshes() -> None:
    """As the Prometheus refresher does: reviews between two refreshes share a snapshot
    (the budget rule keeps its figures per snapshot), and a refresh makes a fresh one."""
    budgets = read_demo_spend(DEMO_SPEND)
    steady = DemoSpend(budgets, refresh=timedelta(hours=1))
    first = steady.snapshot()
    assert steady.snapshot() is first
    assert first.budgets == budgets
    always = DemoSpend(budgets, refresh=timedelta(0))
    earlier = always.snapshot()
    later = always.snapshot()
    assert later is not earlier
    assert later.fetched_at is not None
    assert earlier.fetched_at is not None
    assert later.fetched_at >= earlier.fetched_at


def test_serve_refuses_to_start_on_an_invalid_policy_naming_file_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("apiVersion: costwarden.io/v1alpha1\nkind: Policy\nspec: {bogus: 1}\n")
    status = main(["serve", "--insecure-http", "--policies", str(policy)])
    assert status == 2
    assert str(policy) in capsys.readouterr().err


def test_serve_without_a_certificate_says_which_flags_to_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--webhook-port", "1"]) == 2
    assert "--tls-cert-file" in capsys.readouterr().err


GPU_LIMIT = """\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: gpu-limits}
spec:
  rules:
  - name: max-gpus-per-pod
    action: deny
    gpuLimits: {maxPerPod: %s}
"""


def test_policies_reload_from_a_configmap_and_a_bad_reload_keeps_the_last_good_set(
    tmp_path: Path,
) -> None:
    volume = ConfigMapVolume(tmp_path / "policies", {"gpu.yaml": GPU_LIMIT % 4})
    settings = local_settings(policies=(volume.directory,), reload_interval_seconds=0.05)
    app = application.create_app(settings, namespaces=application.StaticNamespaceLabels(NAMESPACES))
    train_a100 = load_fixture(next(p for p in FIXTURES if p.name.startswith("009-")))
    policies = app.sources[0]

    def allowed(http: httpx.Client) -> bool:
        decision: bool = http.post("/validate", json=train_a100).json()["response"]["allowed"]
        return decision

    with running(app) as serving:
        base = f"http://127.0.0.1:{serving.webhook_port}"
        metrics_url = f"http://127.0.0.1:{serving.metrics_port}"
        with httpx.Client(base_url=base) as http:
            assert allowed(http)  # 4 GPUs, limit 4
            volume.update({"gpu.yaml": GPU_LIMIT % 2})
            wait_until(lambda: not allowed(http), what="the stricter limit to serve")
            volume.update({"gpu.yaml": (GPU_LIMIT % 8).replace("maxPerPod", "maxPerPood")})
            wait_until(lambda: policies.status.error is not None, what="the bad reload")
            assert not allowed(http)  # the limit of 2 keeps serving
            ready = httpx.get(f"{metrics_url}/readyz")
            exposition = httpx.get(f"{metrics_url}/metrics").text
    assert ready.status_code == 200
    error = ready.json()["sources"]["policies"]["error"]
    assert "gpu.yaml" in error
    assert "maxPerPood" in error
    assert 'costwarden_policy_reload_success{source="policies"} 0.0' in exposition


def test_serve_on_a_port_in_use_exits_2_saying_which_ports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--insecure-http", "--host", "127.0.0.1", "--webhook-port", str(port)]
        assert main([*argv, "--metrics-port", "0"]) == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in capsys.readouterr().err


SPOT_MUTATE = """\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: spot-for-dev}
spec:
  rules:
  - name: dev-on-spot
    action: deny
    match:
      namespaceSelector: {matchLabels: {env: dev}}
    spot: {mode: mutate, cloud: %s}
"""


@pytest.mark.parametrize("cloud", ["karpenter", "eks", "gke", "aks"])
def test_spot_mutation_moves_a_dev_pod_to_spot_annotates_its_spot_price_and_is_idempotent(
    tmp_path: Path, cloud: str
) -> None:
    policy = tmp_path / "spot.yaml"
    policy.write_text(SPOT_MUTATE % cloud)
    app = application.create_app(
        local_settings(policies=(policy,)),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
    )
    review = load_fixture(next(p for p in FIXTURES if p.name.startswith("010-")))
    sent = review["request"]["object"]
    with (
        running(app) as serving,
        httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}") as http,
    ):
        first = http.post("/mutate", json=review).json()["response"]
        patch = json.loads(base64.b64decode(first["patch"]))
        review["request"]["object"] = jsonpatch.apply_patch(sent, patch)
        second = http.post("/mutate", json=review).json()["response"]
        validated = http.post("/validate", json=review).json()["response"]
    assert any(op["path"].startswith("/spec/") for op in patch)  # the engine's placement
    annotations = review["request"]["object"]["metadata"]["annotations"]
    assert annotations["costwarden.io/capacity-type"] == "spot"
    assert "patch" not in second
    assert validated["allowed"] is True


def test_serve_takes_what_start_up_built_out_of_the_garbage_collectors_sight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full collection walked every start-up object (22 ms on the benchmark machine):
    # `costwarden serve` freezes them once everything is loaded, before serving.
    frozen_when_serving: list[int] = []

    async def run(self: application.Serving) -> None:
        frozen_when_serving.append(gc.get_freeze_count())

    monkeypatch.setattr(application.Serving, "run", run)
    before = gc.get_freeze_count()
    try:
        application.serve(local_settings())
    finally:
        gc.unfreeze()  # this test process is not a server
    assert before == 0
    assert frozen_when_serving[0] > 10_000
