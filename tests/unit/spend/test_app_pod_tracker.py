"""The pod cost exporter as `serve --in-cluster` builds it (`App.pod_tracker`), fed watch
events as plain dicts, with the cluster's DRA objects and node labels in the adapters `serve`
watches them into (`kube.dra.DraCache`, `kube.nodes.NodeCache`, filled as their watches
fill them). No cluster, no server."""

from __future__ import annotations

from typing import Any

import yaml
from tests.conftest import FIXTURES, ROOT

from costwarden import app as application
from costwarden.catalog.loading import bundled_catalog
from costwarden.estimating import estimate_pod
from costwarden.kube.dra import DraCache
from costwarden.kube.nodes import NodeCache
from costwarden.settings import Settings

DRA = FIXTURES / "dra"
EXAMPLES = ROOT / "src" / "costwarden" / "data" / "examples"
H100 = bundled_catalog().accelerators["h100-80gb"].hourly
NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp"},
    "ml-infer": {"cost-centre": "RnD-1001", "team": "serving"},
}


def objects(*names: str) -> list[dict[str, Any]]:
    return [o for name in names for o in yaml.safe_load_all((DRA / name).read_text())]


def watched() -> DraCache:
    """The cache as its three watches fill it after their first list."""
    found = objects("deviceclasses.yaml", "train-8xh100.yaml", "shared-claim.yaml")
    cache = DraCache()
    cache.classes.replace([o for o in found if o["kind"] == "DeviceClass"])
    cache.templates.replace([o for o in found if o["kind"] == "ResourceClaimTemplate"])
    cache.claims.replace([o for o in found if o["kind"] == "ResourceClaim"])
    return cache


def running(name: str) -> list[dict[str, Any]]:
    """The pods of fixture `name`, bound to a node and running."""
    return [
        {**o, "spec": {**o["spec"], "nodeName": "gpu-1"}, "status": {"phase": "Running"}}
        for o in objects(name)
        if o["kind"] == "Pod"
    ]


def serving_app() -> application.App:
    """The app as `serve --in-cluster` builds it: `dra` given to `create_app`, then set."""
    cache = watched()
    app = application.create_app(
        Settings(in_cluster=True, insecure_http=True),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        dra=cache,
    )
    app.dra = cache
    return app


def cost(app: application.App, namespace: str, pod: str) -> float | None:
    values = [
        sample.value
        for metric in app.registry.collect()
        if metric.name == "costwarden_pod_hourly_cost"
        for sample in metric.samples
        if (sample.labels["namespace"], sample.labels["pod"]) == (namespace, pod)
    ]
    assert len(values) <= 1
    return values[0] if values else None


def test_the_apps_pod_tracker_prices_claimed_devices_with_the_apps_dra_objects() -> None:
    app = serving_app()
    tracker = app.pod_tracker()
    assert tracker is not None
    (train,) = running("train-8xh100.yaml")
    tracker.apply("ADDED", train)
    without_dra = estimate_pod(train["spec"], catalog=bundled_catalog()).hourly.total
    assert cost(app, "ml-train", "train-8xh100") == float(8 * H100 + without_dra)


def test_the_apps_pod_tracker_shows_a_shared_claim_once_under_its_namespaces_labels() -> None:
    app = serving_app()
    tracker = app.pod_tracker()
    assert tracker is not None
    for pod in running("shared-claim.yaml"):
        tracker.apply("ADDED", pod)
    labels = {
        "namespace": "ml-infer",
        "pod": "resourceclaim/shared-h100",
        "cost_centre": "RnD-1001",
        "team": "serving",
        "gpu_model": "h100-80gb",
        "capacity_type": "on-demand",
    }
    assert cost(app, "ml-infer", "resourceclaim/shared-h100") == float(2 * H100)
    assert app.registry.get_sample_value("costwarden_pod_hourly_cost", labels) == float(2 * H100)


def test_the_apps_pod_tracker_prices_a_running_pod_on_its_node_from_the_apps_nodes() -> None:
    app = serving_app()
    nodes = NodeCache()  # as the node watch fills it after its first list
    nodes.replace(
        [
            {
                "metadata": {
                    "name": "gpu-1",
                    "labels": {
                        "node.kubernetes.io/instance-type": "g5.xlarge",
                        "karpenter.sh/capacity-type": "spot",
                        "kubernetes.io/hostname": "gpu-1",
                    },
                }
            }
        ]
    )
    app.nodes = nodes
    tracker = app.pod_tracker()
    assert tracker is not None
    notebook = yaml.safe_load((EXAMPLES / "dev-notebook-pod.yaml").read_text())
    notebook["metadata"]["namespace"] = "ml-train"
    tracker.apply(
        "ADDED",
        {
            **notebook,
            "spec": {**notebook["spec"], "nodeName": "gpu-1"},
            "status": {"phase": "Running"},
        },
    )
    g5_spot = bundled_catalog().instance_types["g5.xlarge"].spot_hourly
    assert g5_spot is not None
    assert cost(app, "ml-train", "notebook-alice") == float(g5_spot)
    assert app.readiness()[1]["nodes"] == {"ready": True, "loaded": 1}
