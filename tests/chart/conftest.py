"""Chart tests run the real Helm engine (helm-python-sdk, Helm v4's Go library) and the
real Kubernetes object schemas (kubernetes-validate); without them they skip locally and
fail under CI=true."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from tests.conftest import ROOT, require

CHART = ROOT / "charts" / "costwarden"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "costwarden"
NAMESPACE = "costwarden-system"

Objects = list[dict[str, Any]]
Render = Callable[..., Objects]


def helm_engine() -> ModuleType:
    try:
        import helm_python
    except ImportError:  # pragma: no cover - depends on the machine
        require(False, what="the Helm engine (helm-python-sdk)", install="pip install -e .[dev]")
        raise
    return helm_python


def sync_script() -> ModuleType:
    """scripts/sync-chart-files as a module: tests and the script agree on "in sync"."""
    path = ROOT / "scripts" / "sync-chart-files"
    loader = importlib.machinery.SourceFileLoader("sync_chart_files", str(path))
    spec = importlib.util.spec_from_loader("sync_chart_files", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def split(rendered: dict[str, str]) -> Objects:
    """Every non-empty object Helm rendered, NOTES.txt left out."""
    objects: Objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for chunk in re.split(r"(?m)^---\s*$", text):
            obj = yaml.safe_load(chunk)
            if obj:
                objects.append(obj)
    return objects


def load_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return values


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    return helm_engine()


@pytest.fixture(scope="session")
def chart(helm: ModuleType) -> Any:
    return helm.Chart.load(str(CHART))


@pytest.fixture(scope="session")
def render(chart: Any) -> Render:
    def render(
        values: dict[str, Any] | None = None,
        *,
        namespace: str = NAMESPACE,
        name: str = RELEASE,
    ) -> Objects:
        return split(chart.render(values or {}, name=name, namespace=namespace))

    return render


@pytest.fixture(scope="session")
def defaults(render: Render) -> Objects:
    return render()


def only(objects: Objects, kind: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, got {len(matches)}"
    return matches[0]


def of_kind(objects: Objects, kind: str) -> Objects:
    return [o for o in objects if o["kind"] == kind]


def named(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    (match,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def webhooks(objects: Objects) -> Iterator[dict[str, Any]]:
    for obj in objects:
        if obj["kind"] in {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}:
            yield from obj["webhooks"]


def webhook(objects: Objects, name: str) -> dict[str, Any]:
    (match,) = [hook for hook in webhooks(objects) if hook["name"] == name]
    return match


APPROVALS = "policyexceptions.costwarden.io"
"""The webhook that checks PolicyExceptions (approvals), not workloads."""


def workload_webhooks(objects: Objects) -> Iterator[dict[str, Any]]:
    """The webhooks that judge pods and workloads: every one but the approvals check."""
    return (hook for hook in webhooks(objects) if hook["name"] != APPROVALS)


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, what="promtool", install="apt-get install -y prometheus")
    assert path is not None
    return path


def run_promtool(promtool: str, *args: str, cwd: Path) -> str:
    """promtool's output; a failure shows what it said."""
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
