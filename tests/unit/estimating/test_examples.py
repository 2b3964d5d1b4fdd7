"""The bundled example manifests and the shared fixtures, priced end to end.

Examples must be valid Kubernetes objects (checked with the real kubernetes-validate
schemas); the fixture objects are priced against the bundled catalog, with the expected
figures computed from that catalog's own prices so the tests hold when prices change.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ADMISSION_FIXTURES, MANIFEST_FIXTURES, require

from costwarden import estimating
from costwarden.catalog import loading
from costwarden.catalog.models import Catalog

EXAMPLES = Path(estimating.__file__).resolve().parent.parent / "data" / "examples"
KUBERNETES_VERSION = "1.35.0"


def _objects(path: Path) -> list[dict[str, Any]]:
    objects = []
    for doc in yaml.safe_load_all(path.read_text()):
        # A List is a client-side wrapper (there is no schema for it): validate its items.
        objects.extend(doc["items"] if doc["kind"] == "List" else [doc])
    return objects


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_example_is_a_valid_kubernetes_object(path: Path) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        kubernetes_validate = None
    require(
        kubernetes_validate is not None,
        what="kubernetes-validate",
        install="pip install -e '.[dev]'",
    )
    for obj in _objects(path):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_bundled_examples_include_every_fixture_manifest() -> None:
    if not MANIFEST_FIXTURES.exists():
        pytest.skip(f"{MANIFEST_FIXTURES} is not available")
    for fixture in MANIFEST_FIXTURES.glob("*.yaml"):
        assert (EXAMPLES / fixture.name).read_text() == fixture.read_text()


@pytest.fixture(scope="module")
def bundled() -> Catalog:
    return loading.bundled_catalog()


def _admission_object(name: str) -> dict[str, Any]:
    path = ADMISSION_FIXTURES / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    obj: dict[str, Any] = json.loads(path.read_text())["request"]["object"]
    return obj


def _share(catalog: Catalog, instance: str, *, cpu: int, gib: int, devices: int) -> Decimal:
    """What a pod with these requests pays on `instance` on-demand (docs/cost-model.md)."""
    spec = catalog.instance_types[instance]
    fallback = catalog.fallback
    device = Decimal(0)
    if spec.accelerators is not None:
        device = catalog.accelerators[spec.accelerators.model].hourly
    count = spec.accelerators.count if spec.accelerators is not None else 0
    weight = (
        spec.vcpu * fallback.cpu_hourly
        + spec.memory_gib * fallback.memory_gib_hourly
        + count * device
    )
    own = cpu * fallback.cpu_hourly + gib * fallback.memory_gib_hourly + devices * device
    return spec.on_demand_hourly * own / weight


def test_train_a100_pod_from_the_api_server(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("009-validate-pod-create-ml-train-train-a100.json"), catalog=bundled
    )
    assert estimate is not None
    expected = _share(bundled, "p4d.24xlarge", cpu=32, gib=256, devices=4)
    assert abs(estimate.hourly.total - expected) < Decimal("1e-11")
    assert estimate.pod.placement.capacity_type == "on-demand"


def test_llm_server_deployment_is_two_g5_2xlarge_shares(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("014-validate-deployment-create-ml-train-llm-server.json"),
        catalog=bundled,
    )
    assert estimate is not None
    one = _share(bundled, "g5.2xlarge", cpu=6, gib=24, devices=1)
    assert abs(estimate.hourly.total - 2 * one) < Decimal("1e-11")


def test_feature_cache_statefulset_is_three_r6i_shares(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("030-validate-statefulset-create-ml-train-feature-cache.json"),
        catalog=bundled,
    )
    assert estimate is not None
    one = _share(bundled, "r6i.2xlarge", cpu=2, gib=48, devices=0)
    assert abs(estimate.hourly.total - 3 * one) < Decimal("1e-11")


def test_sweep_job_runs_four_gke_spot_l4_pods(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("020-validate-job-create-ml-dev-hparam-sweep.json"), catalog=bundled
    )
    assert estimate is not None
    fallback = bundled.fallback
    l4 = bundled.accelerators["l4"]
    spot_factor = 1 - fallback.spot_discount
    one = (3 * fallback.cpu_hourly + 12 * fallback.memory_gib_hourly) * spot_factor
    one += bundled.accelerator_spot_hourly(l4)
    assert estimate.pods == 4
    assert abs(estimate.hourly.total - 4 * one) < Decimal("1e-11")


def test_daemonset_is_one_node_of_fallback_priced_exporter(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("033-validate-daemonset-create-ml-train-dcgm-exporter.json"),
        catalog=bundled,
    )
    assert estimate is not None
    fallback = bundled.fallback
    # 100m cpu, 128Mi memory, at fallback rates (no instance type named).
    expected = Decimal("0.1") * fallback.cpu_hourly + Decimal("0.125") * fallback.memory_gib_hourly
    assert estimate.pods == 1
    assert estimate.hourly.total == expected
    assert any("assumed 1 node" in a for a in estimate.assumptions)


def test_mig_pod_is_a_seventh_of_the_a100_its_gfd_label_names(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("013-validate-pod-create-ml-train-infer-mig.json"), catalog=bundled
    )
    assert estimate is not None
    fallback = bundled.fallback
    a100 = bundled.accelerators["a100-40gb"]
    expected = (
        Decimal("2.1") * fallback.cpu_hourly
        + (8 + Decimal(64) / 1024) * fallback.memory_gib_hourly
        + a100.hourly / 7
    )
    assert abs(estimate.hourly.total - expected) < Decimal("1e-11")


def test_plain_nginx_pod_without_requests_costs_nothing(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("063-validate-pod-create-ml-infer-web-7887448d46-j2t9d.json"),
        catalog=bundled,
    )
    assert estimate is not None
    assert estimate.hourly.total == 0
    assert any("BestEffort" in a for a in estimate.pod.assumptions)


def test_the_cronjob_prices_its_job_on_g5_12xlarge_spot(bundled: Catalog) -> None:
    estimate = estimating.estimate_object(
        _admission_object("029-validate-cronjob-create-ml-train-nightly-retrain.json"),
        catalog=bundled,
    )
    assert estimate is not None
    g5 = bundled.instance_types["g5.12xlarge"]
    on_demand_share = _share(bundled, "g5.12xlarge", cpu=40, gib=160, devices=4)
    expected = on_demand_share * bundled.spot_hourly(g5) / g5.on_demand_hourly
    assert estimate.pod.placement.capacity_type == "spot"
    assert abs(estimate.hourly.total - expected) < Decimal("1e-11")


def _fixture_names() -> list[str]:
    return sorted(p.name for p in ADMISSION_FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", _fixture_names())
def test_every_object_a_real_api_server_sent_is_priced_or_runs_no_pods(
    bundled: Catalog, name: str
) -> None:
    request = json.loads((ADMISSION_FIXTURES / name).read_text())["request"]
    obj = request.get("object") or request["oldObject"]  # DELETE carries only oldObject
    estimate = estimating.estimate_object(obj, catalog=bundled)
    runs_pods = obj["kind"] in {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                                "Job", "CronJob"}  # fmt: skip
    assert (estimate is not None) == runs_pods
    if estimate is not None:
        if obj["kind"] in {"Job", "CronJob"}:  # they run to completion: hours from runs
            assert estimate.runs is not None
            hours = estimate.runs.hours_per_month
            assert estimate.monthly == (None if hours is None else estimate.hourly.total * hours)
        else:
            assert estimate.monthly == estimate.hourly.total * 730
