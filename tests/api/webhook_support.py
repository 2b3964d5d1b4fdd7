"""Helpers for the webhook tests: fixture reviews, verdict builders, a server in a thread."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from tests.conftest import ADMISSION_FIXTURES

from costwarden import app as application
from costwarden import metrics, reviews
from costwarden.api import namespace_files
from costwarden.api.reloading import Reloadable
from costwarden.engine import patching
from costwarden.engine.verdicts import MergePatch, Repair, Verdict
from costwarden.estimating.estimates import (
    Breakdown,
    Placement,
    PodEstimate,
    Requests,
    WorkloadEstimate,
)
from costwarden.settings import Settings

NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp", "env": "prod"},
    "ml-dev": {"cost-centre": "RnD-1001", "team": "vision", "env": "dev"},
    "ml-infer": {"cost-centre": "Retail-2045", "team": "search", "env": "prod"},
}
"""The namespaces the fixtures were captured in (fixtures/admission/INDEX.md)."""


PATIENCE = 3000
"""Polls (20 ms apart) before `wait_until` gives up: a hang becomes a failure. Generous on
purpose — it bounds a wait, it never measures one."""


def wait_until(condition: Callable[[], object], *, what: str) -> None:
    """Poll `condition` until it is true; fail naming `what` if it never becomes true."""
    for _ in range(PATIENCE):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def local_settings(**overrides: Any) -> Settings:
    """Settings serving on free loopback ports (plain HTTP unless TLS files are given)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "webhook_port": free_port(),
        "metrics_port": free_port(),
        "insecure_http": True,
    }
    values.update(overrides)
    return Settings(**values)


def budget_policy(cap: str, *, label: str = "cost-centre", on_stale: str = "warn") -> str:
    """A CostPolicy with one budget rule, `cc-budget`: a monthly cap for Sales-5045, grouped
    by `label`, doing `on_stale` when spend data is stale."""
    return f"""\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {{name: budgets}}
spec:
  rules:
  - name: cc-budget
    action: deny
    budget:
      groupBy: label
      label: {label}
      onStaleData: {on_stale}
      caps: {{Sales-5045: "{cap}"}}
"""


def fixture_paths() -> list[Path]:
    return sorted(ADMISSION_FIXTURES.glob("*.json"))


def load_fixture(path: Path) -> dict[str, Any]:
    review: dict[str, Any] = json.loads(path.read_text())
    return review


def webhook_of(path: Path) -> str:
    """`validate` or `mutate`, as the file name says the API server called."""
    return path.name.split("-")[1]


def estimate_for(
    obj: dict[str, Any] | None,
    *,
    hourly: str = "1.5",
    gpu_model: str | None = "a100-40gb",
    capacity_type: str | None = None,
) -> WorkloadEstimate:
    """A fixed estimate whose capacity type follows the object's nodeSelector, as a real
    estimator's would, so re-evaluating a Spot-patched object changes the annotation."""
    spec = (obj or {}).get("spec", {})
    selector = spec.get("nodeSelector") or {}
    capacity = capacity_type or selector.get("karpenter.sh/capacity-type", "on-demand")
    pod = PodEstimate(
        requests=Requests(cpu=Decimal(4), memory_gib=Decimal(16)),
        placement=Placement(capacity_type=capacity, accelerator_model=gpu_model),
        hourly=Breakdown(Decimal("0.1"), Decimal("0.1"), Decimal(hourly) - Decimal("0.2")),
        currency="USD",
        catalog_version="2026-11-01",
    )
    kind = (obj or {}).get("kind", "Pod")
    return WorkloadEstimate(kind=kind, name="x", namespace=None, pod=pod, pods=Decimal(1))


@dataclass
class ScriptedEvaluator:
    """Stands in for the policy engine where a test fixes the verdict it wants rendered.

    `decide(request)` returns the Verdict, `repairs(request)` the merge patch /mutate's
    repair gives; every call is recorded with its `side_effects`.
    """

    decide: Callable[[reviews.AdmissionRequest], Verdict]
    repairs: Callable[[reviews.AdmissionRequest], MergePatch] = lambda request: {}
    calls: list[tuple[reviews.AdmissionRequest, bool]] = field(default_factory=list)

    def __call__(self, request: reviews.AdmissionRequest, *, side_effects: bool) -> Verdict:
        self.calls.append((request, side_effects))
        return self.decide(request)

    def repair(self, request: reviews.AdmissionRequest) -> Repair:
        """/mutate's question: the scripted repairs, and the estimate the verdict gives the
        repaired object (recorded as a call without side effects)."""
        self.calls.append((request, False))
        patch = self.repairs(request)
        if not patch or request.object is None:
            return Repair(patch=patch, estimate=self.decide(request).estimate)
        repaired = request._replace(object=patching.merge_patch(request.object, patch))
        return Repair(patch=patch, estimate=self.decide(repaired).estimate)


def allow_with_estimate(request: reviews.AdmissionRequest) -> Verdict:
    return Verdict(allowed=True, estimate=estimate_for(request.object))


def build_app(
    tmp_path: Path,
    evaluate: ScriptedEvaluator,
    *,
    settings: Settings | None = None,
    namespace_paths: list[Path] | None = None,
    sources: tuple[Reloadable[Any], ...] = (),
    looks_up_workloads: bool = False,
) -> application.App:
    """The webhook around `evaluate`, with namespace labels from files (the fixtures'
    namespaces unless `namespace_paths` names others)."""
    registry = CollectorRegistry()
    admission_metrics = metrics.AdmissionMetrics(registry)
    if namespace_paths is None:
        namespace_paths = [tmp_path / "namespaces.yaml"]
        namespace_paths[0].write_text(json.dumps(NAMESPACES))
    namespace_source = Reloadable(
        "namespaces",
        paths=namespace_paths,
        load=namespace_files.load,
        on_status=application.reload_reporter(admission_metrics),
    )
    return application.assemble(
        settings or local_settings(),
        evaluate=evaluate,
        repair=evaluate.repair,
        namespaces=namespace_files.FileNamespaceLabels(namespace_source),
        registry=registry,
        admission_metrics=admission_metrics,
        sources=(*sources, namespace_source),
        looks_up_workloads=looks_up_workloads,
    )


class ConfigMapVolume:
    """A directory laid out as the kubelet mounts a ConfigMap: visible symlinks through
    `..data`, which points at a timestamped hidden directory and is swapped atomically."""

    def __init__(self, directory: Path, files: dict[str, str]) -> None:
        self.directory = directory
        self.version = 0
        directory.mkdir()
        self.update(files)
        for name in files:
            os.symlink(f"..data/{name}", directory / name)

    def update(self, files: dict[str, str]) -> None:
        self.version += 1
        target = self.directory / f"..2026_11_22_12_00_00.{self.version}"
        target.mkdir()
        for name, text in files.items():
            (target / name).write_text(text)
        os.symlink(target.name, self.directory / "..data_tmp")
        os.replace(self.directory / "..data_tmp", self.directory / "..data")


@contextmanager
def running(app: application.App) -> Iterator[application.Serving]:
    """The app served by uvicorn in a thread (its own event loop) until the block ends."""
    serving = application.Serving(app)
    thread = threading.Thread(target=asyncio.run, args=(serving.run(),), daemon=True)
    thread.start()
    try:
        assert serving.wait_started(timeout=30), "server did not start"
        yield serving
    finally:
        serving.stop()
        thread.join(timeout=30)
