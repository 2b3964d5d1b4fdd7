"""The webhooks' matchConditions, evaluated by a CEL engine (cel-python) on the
AdmissionReview requests a real kube-apiserver sent: every CREATE and every UPDATE that
changes a spec or labels still reaches costwarden; only no-op re-applies are skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.chart.conftest import Objects, webhook, workload_webhooks
from tests.conftest import ADMISSION_FIXTURES, require


def cel() -> Any:
    try:
        import celpy
    except ImportError:
        require(False, what="a CEL engine (cel-python)", install="pip install -e .[dev]")
        raise
    return celpy


def reviews() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(ADMISSION_FIXTURES.glob("*.json")):
        request = json.loads(path.read_text())["request"]
        if request["operation"] in {"CREATE", "UPDATE"}:
            found.append((path.name, request))
    return found


def sent_to_costwarden(conditions: list[dict[str, str]], request: dict[str, Any]) -> bool:
    """All conditions true: the API server calls the webhook (per the v1 API)."""
    celpy = cel()
    environment = celpy.Environment()
    activation = {
        "request": celpy.json_to_cel(request),
        "object": celpy.json_to_cel(request.get("object")),
        "oldObject": celpy.json_to_cel(request.get("oldObject")),
    }
    results = []
    for condition in conditions:
        program = environment.program(environment.compile(condition["expression"]))
        result = program.evaluate(activation)
        assert isinstance(result, celpy.celtypes.BoolType), (condition["name"], result)
        results.append(bool(result))
    return all(results)


def changes_something_costwarden_checks(request: dict[str, Any]) -> bool:
    if request["operation"] != "UPDATE":
        return True
    new, old = request["object"], request["oldObject"]
    return bool(
        new.get("spec") != old.get("spec")
        or new["metadata"].get("labels") != old["metadata"].get("labels")
    )


@pytest.fixture(scope="module")
def conditions(defaults: Objects) -> list[dict[str, str]]:
    found: list[dict[str, str]] = webhook(defaults, "validate.costwarden.io")["matchConditions"]
    return found


def test_mutating_and_validating_webhooks_share_the_conditions(defaults: Objects) -> None:
    (first, second) = [hook["matchConditions"] for hook in workload_webhooks(defaults)]
    assert first == second


def test_every_create_and_every_meaningful_update_reaches_costwarden(
    conditions: list[dict[str, str]],
) -> None:
    decisions = {name: sent_to_costwarden(conditions, r) for name, r in reviews()}
    expected = {name: changes_something_costwarden_checks(r) for name, r in reviews()}
    assert decisions == expected
    sent_updates = [n for n, r in reviews() if r["operation"] == "UPDATE" and decisions[n]]
    assert any("scale-update" in name for name in sent_updates)  # kubectl scale
    assert any("pod-update-ml-train-train-a100" in name for name in sent_updates)  # relabel


def test_an_in_place_resize_reaches_costwarden(conditions: list[dict[str, str]]) -> None:
    """A `pods/resize` UPDATE carries the whole pod: its spec changed, so it is sent."""
    name, request = next((n, r) for n, r in reviews() if "pod-update-ml-train-train-a100" in n)
    resize = json.loads(json.dumps(request))
    resize["subResource"] = resize["requestSubResource"] = "resize"
    resize["oldObject"] = json.loads(json.dumps(resize["object"]))
    (container, *_) = resize["object"]["spec"]["containers"]
    container["resources"]["requests"]["cpu"] = "96"
    assert sent_to_costwarden(conditions, resize), name


def test_no_op_re_applies_are_skipped(conditions: list[dict[str, str]]) -> None:
    skipped = [name for name, r in reviews() if not sent_to_costwarden(conditions, r)]
    assert skipped
    assert all("pod-update-ml-dev-notebook-alice" in name for name in skipped)


def test_a_terminating_object_is_skipped(conditions: list[dict[str, str]]) -> None:
    name, request = next((n, r) for n, r in reviews() if "pod-update-ml-train-train-a100" in n)
    terminating = json.loads(json.dumps(request))
    terminating["object"]["metadata"]["deletionTimestamp"] = "2026-11-22T11:00:00Z"
    assert sent_to_costwarden(conditions, request), name
    assert not sent_to_costwarden(conditions, terminating)
