"""Helpers for the engine tests: small manifests, policy sets from dicts, one-call judging.

Exposed as fixtures (pytest imports every conftest.py as the module `conftest`, so
importing helpers from one is luck). Time, namespaces and spend are explicit: the engine
never reads a clock, and neither do these tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import jsonpatch
import pytest

from costwarden import reviews
from costwarden.api.wire import read_review
from costwarden.catalog.loading import bundled_catalog
from costwarden.catalog.models import Catalog
from costwarden.documents import Document
from costwarden.engine import evaluating
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.verdicts import Verdict
from costwarden.policies import loading, sets
from costwarden.reviews import AdmissionRequest

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp", "env": "prod"},
    "ml-dev": {"cost-centre": "RnD-1001", "team": "vision", "env": "dev"},
    "ml-infer": {"cost-centre": "Retail-2045", "team": "search", "env": "prod"},
    "bare": {},
}
POD_TEMPLATE_POINTERS = {
    "Deployment": "/spec/template",
    "StatefulSet": "/spec/template",
    "ReplicaSet": "/spec/template",
    "DaemonSet": "/spec/template",
    "Job": "/spec/template",
    "CronJob": "/spec/jobTemplate/spec/template",
}
API_VERSIONS = {
    "Pod": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return bundled_catalog()


@pytest.fixture(scope="session")
def admission_fixtures(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath / "tests" / "fixtures" / "admission"


class Review(Protocol):
    def __call__(self, name: str) -> AdmissionRequest: ...


@pytest.fixture(scope="session")
def review(admission_fixtures: Path) -> Review:
    """The AdmissionRequest of a real captured review, by file-name prefix (`009`)."""

    def load(prefix: str) -> AdmissionRequest:
        (path,) = admission_fixtures.glob(f"{prefix}-*.json")
        return read_review(json.loads(path.read_text()))

    return load


def make_pod(
    *,
    name: str = "p",
    namespace: str = "ml-train",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    gpus: int = 0,
    cpu: str = "1",
    memory: str = "1Gi",
    node_selector: Mapping[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    affinity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    resources: dict[str, Any] = {"requests": requests}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "resources": resources}]}
    if node_selector is not None:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if affinity is not None:
        spec["affinity"] = affinity
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        metadata["labels"] = dict(labels)
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def make_workload(kind: str, pod: Mapping[str, Any], *, replicas: int = 1) -> dict[str, Any]:
    """`pod` wrapped as the pod template of a workload of `kind`."""
    if kind == "Pod":
        return dict(pod)
    metadata = dict(pod["metadata"])
    template: dict[str, Any] = {"metadata": {"labels": metadata.pop("labels", {})}}
    if "annotations" in metadata:
        template["metadata"]["annotations"] = metadata.pop("annotations")
    template["spec"] = dict(pod["spec"])
    spec: dict[str, Any]
    if kind in ("Job", "CronJob"):
        template["spec"]["restartPolicy"] = "Never"
        job_spec: dict[str, Any] = {"parallelism": replicas, "template": template}
        spec = (
            job_spec
            if kind == "Job"
            else {"schedule": "0 2 * * *", "jobTemplate": {"spec": job_spec}}
        )
    else:
        spec = {"selector": {"matchLabels": {"app": "x"}}, "template": template}
        if kind != "DaemonSet":
            spec["replicas"] = replicas
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": metadata, "spec": spec}


@pytest.fixture(scope="session")
def pod() -> Callable[..., dict[str, Any]]:
    return make_pod


@pytest.fixture(scope="session")
def workload() -> Callable[..., dict[str, Any]]:
    return make_workload


def policy_set(
    *rules: Mapping[str, Any], exceptions: tuple[Mapping[str, Any], ...] = ()
) -> sets.PolicySet:
    """A policy set holding one CostPolicy with `rules`, plus PolicyException specs."""
    docs = [
        Document(
            source="<test>",
            index=0,
            data={
                "apiVersion": "costwarden.io/v1alpha1",
                "kind": "CostPolicy",
                "metadata": {"name": "test-policy"},
                "spec": {"rules": [dict(rule) for rule in rules]},
            },
        )
    ]
    for index, spec in enumerate(exceptions, start=1):
        docs.append(
            Document(
                source="<test>",
                index=index,
                data={
                    "apiVersion": "costwarden.io/v1alpha1",
                    "kind": "PolicyException",
                    # A spec may carry the exception's metadata (namespace, approved-by).
                    "metadata": {"name": f"exception-{index}", **spec.get("metadata", {})},
                    "spec": {k: v for k, v in spec.items() if k != "metadata"},
                },
            )
        )
    return loading.policies_from_documents(docs)


@pytest.fixture(scope="session")
def policies() -> Callable[..., sets.PolicySet]:
    return policy_set


def context_for(**overrides: Any) -> Context:
    values: dict[str, Any] = {"namespaces": StaticNamespaces(NAMESPACES), "now": NOW}
    values.update(overrides)
    return Context(**values)


@pytest.fixture(scope="session")
def context() -> Callable[..., Context]:
    return context_for


class Judge(Protocol):
    def __call__(
        self,
        obj: Mapping[str, Any],
        policies: sets.PolicySet,
        *,
        operation: str = "CREATE",
        old: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        context: Context | None = None,
        user: str | None = None,
    ) -> Verdict: ...


@pytest.fixture(scope="session")
def judge(catalog: Catalog) -> Judge:
    def run(
        obj: Mapping[str, Any],
        policies: sets.PolicySet,
        *,
        operation: str = "CREATE",
        old: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        context: Context | None = None,
        user: str | None = None,
    ) -> Verdict:
        request = reviews.request_for(
            obj, operation=operation, old_object=old, dry_run=dry_run, user=user
        )
        return evaluating.evaluate(
            request, policies=policies, catalog=catalog, context=context or context_for()
        )

    return run


def rules_by_action(verdict: Verdict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for violation in verdict.violations:
        found.setdefault(violation.action, []).append(violation.rule)
    return found


@pytest.fixture(scope="session")
def fired() -> Callable[[Verdict], dict[str, list[str]]]:
    return rules_by_action


def apply_patches(obj: Mapping[str, Any], verdict: Verdict) -> dict[str, Any]:
    """The object as the API server stores it after the verdict's JSONPatch."""
    operations = [{"op": p.op, "path": p.path, "value": p.value} for p in verdict.patches]
    patched: dict[str, Any] = jsonpatch.apply_patch(dict(obj), operations)
    return patched


@pytest.fixture(scope="session")
def patched() -> Callable[[Mapping[str, Any], Verdict], dict[str, Any]]:
    return apply_patches
