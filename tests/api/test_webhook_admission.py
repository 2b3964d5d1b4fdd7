"""Component tests of /validate and /mutate through httpx.ASGITransport.

The engine is replaced by `ScriptedEvaluator` where a test needs a particular verdict:
these tests are about what the webhook does with a verdict (responses, patches, metrics,
dry-run, bad bodies), not about the policies.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest
from webhook_support import (
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    estimate_for,
    fixture_paths,
    load_fixture,
    local_settings,
    webhook_of,
)

from costwarden import reviews, workloads
from costwarden.api import wire
from costwarden.engine.verdicts import MergePatch, PatchOperation, Verdict, Violation

FIXTURES = fixture_paths()
SPOT = {"spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}}
SPOT_PATCHES = (
    PatchOperation("add", "/spec/nodeSelector", {"karpenter.sh/capacity-type": "spot"}),
)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app.admission), base_url="http://t")


def decoded_patch(response: dict[str, Any]) -> list[dict[str, Any]]:
    patch = response["response"].get("patch")
    if patch is None:
        return []
    assert response["response"]["patchType"] == "JSONPatch"
    operations: list[dict[str, Any]] = json.loads(base64.b64decode(patch))
    return operations


def fixture(name: str) -> dict[str, Any]:
    return load_fixture(next(p for p in FIXTURES if p.name.startswith(name)))


def test_the_fixture_set_is_present() -> None:
    assert len(FIXTURES) == 68


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
async def test_every_captured_review_gets_a_well_formed_answer_echoing_its_uid(
    tmp_path: Path, path: Path
) -> None:
    review = load_fixture(path)
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    async with client(app) as http:
        answer = await http.post(f"/{webhook_of(path)}", json=review)
    assert answer.status_code == 200
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == review["request"]["uid"]
    assert body["response"]["allowed"] is True
    wire.AdmissionReviewResponse.model_validate(body)


@pytest.mark.parametrize(
    "path", [p for p in FIXTURES if webhook_of(p) == "mutate"], ids=lambda p: p.name
)
async def test_mutate_patches_apply_with_a_real_rfc6902_library_and_a_second_pass_adds_nothing(
    tmp_path: Path, path: Path
) -> None:
    def spot_for_dev(request: reviews.AdmissionRequest) -> MergePatch:
        obj = request.object or {}
        wants_spot = request.namespace == "ml-dev" and "nodeSelector" not in obj.get("spec", {})
        return SPOT if wants_spot else {}

    review = load_fixture(path)
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate, repairs=spot_for_dev))
    async with client(app) as http:
        first = (await http.post("/mutate", json=review)).json()
        patch = decoded_patch(first)
        assert patch, "every captured pod gets at least its estimate annotations"
        mutated = jsonpatch.apply_patch(review["request"]["object"], patch)
        review["request"]["object"] = mutated
        second = (await http.post("/mutate", json=review)).json()
    assert decoded_patch(second) == []
    annotations = mutated["metadata"]["annotations"]
    assert annotations["costwarden.io/hourly-cost"] == "1.5000 USD"
    assert annotations["costwarden.io/gpu-model"] == "a100-40gb"
    assert annotations["costwarden.io/catalog-version"] == "2026-11-01"
    # Annotated from the object *after* the engine's Spot patch, not the one sent.
    expected = estimate_for(mutated).pod.placement.capacity_type
    assert annotations["costwarden.io/capacity-type"] == expected
    sent = load_fixture(path)["request"]
    if sent["namespace"] == "ml-dev" and "nodeSelector" not in sent["object"]["spec"]:
        assert expected == "spot"


async def test_mutate_copies_cost_labels_from_the_namespace_without_overwriting_the_pods_own(
    tmp_path: Path,
) -> None:
    review = fixture("058-mutate-pod-create-ml-infer-plain-nolabels")
    review["request"]["object"]["metadata"]["labels"] = {"team": "web"}
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    async with client(app) as http:
        patch = decoded_patch((await http.post("/mutate", json=review)).json())
    labels = jsonpatch.apply_patch(review["request"]["object"], patch)["metadata"]["labels"]
    assert labels == {"team": "web", "cost-centre": "Retail-2045"}


async def test_mutate_creates_labels_and_annotations_when_the_object_has_none(
    tmp_path: Path,
) -> None:
    review = fixture("058-mutate-pod-create-ml-infer-plain-nolabels")
    review["request"]["object"]["metadata"].pop("labels", None)
    review["request"]["object"]["metadata"].pop("annotations", None)
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    async with client(app) as http:
        patch = decoded_patch((await http.post("/mutate", json=review)).json())
    assert {op["path"] for op in patch} == {"/metadata/labels", "/metadata/annotations"}
    mutated = jsonpatch.apply_patch(review["request"]["object"], patch)
    assert mutated["metadata"]["labels"] == {"cost-centre": "Retail-2045", "team": "search"}


async def test_mutate_escapes_slashes_and_tildes_in_keys_per_rfc6901(tmp_path: Path) -> None:
    review = fixture("010-mutate-pod-create-ml-dev-notebook-alice")
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    async with client(app) as http:
        patch = decoded_patch((await http.post("/mutate", json=review)).json())
    paths = {op["path"] for op in patch}
    assert "/metadata/annotations/costwarden.io~1hourly-cost" in paths
    mutated = jsonpatch.apply_patch(review["request"]["object"], patch)
    assert "costwarden.io/hourly-cost" in mutated["metadata"]["annotations"]


async def test_mutate_never_denies_and_validate_never_patches(tmp_path: Path) -> None:
    def deny_with_patch(request: reviews.AdmissionRequest) -> Verdict:
        violation = Violation("p", "gpu-limit", "deny", "[gpu-limit] 8 GPUs > 4 — ask FinOps")
        return Verdict(allowed=False, violations=(violation,), patches=SPOT_PATCHES)

    app = build_app(tmp_path, ScriptedEvaluator(deny_with_patch))
    async with client(app) as http:
        mutated = (await http.post("/mutate", json=fixture("008-mutate"))).json()["response"]
        validated = (await http.post("/validate", json=fixture("009-validate"))).json()
    assert mutated["allowed"] is True
    assert "patch" not in validated["response"]


async def test_a_denial_is_403_with_every_denying_rules_message(tmp_path: Path) -> None:
    violations = (
        Violation("gpu", "gpu-limit", "deny", "[gpu-limit] 8 GPUs requested, limit 4 — fix it"),
        Violation("labels", "cost-centre", "deny", "[cost-centre] label missing — add it"),
        Violation("labels", "casing", "warn", "[casing] use lower case"),
    )
    app = build_app(tmp_path, ScriptedEvaluator(lambda r: Verdict(False, violations)))
    async with client(app) as http:
        answer = (await http.post("/validate", json=fixture("009-validate"))).json()["response"]
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert answer["status"]["message"].splitlines() == [
        violations[0].message,
        violations[1].message,
    ]
    assert answer["warnings"] == ["[casing] use lower case"]


async def test_warnings_carry_the_estimate_and_warn_rules_each_at_most_120_characters(
    tmp_path: Path,
) -> None:
    long_rule = "[spot-for-dev] " + "this dev pod runs on on-demand capacity " * 6
    verdict = Verdict(
        allowed=True,
        violations=(Violation("p", "spot-for-dev", "warn", long_rule),),
        notices=("costwarden: estimated 1.5000 USD/h (1,095.00 USD/month), 1x a100-40gb",),
    )
    app = build_app(tmp_path, ScriptedEvaluator(lambda r: verdict))
    async with client(app) as http:
        answer = (await http.post("/validate", json=fixture("009-validate"))).json()["response"]
    warnings = answer["warnings"]
    assert warnings[0].startswith("costwarden: estimated 1.5000 USD/h")
    assert all(len(line) <= 120 for line in warnings)
    assert " ".join(w.strip() for w in warnings[1:]) == " ".join(long_rule.split())


async def test_dry_run_is_evaluated_identically_without_side_effects(tmp_path: Path) -> None:
    evaluator = ScriptedEvaluator(allow_with_estimate)
    app = build_app(tmp_path, evaluator)
    async with client(app) as http:
        dry = (await http.post("/validate", json=fixture("003-validate"))).json()["response"]
        real = (await http.post("/validate", json=fixture("009-validate"))).json()["response"]
    assert {k: v for k, v in dry.items() if k != "uid"} == {
        k: v for k, v in real.items() if k != "uid"
    }
    assert [side_effects for _, side_effects in evaluator.calls] == [False, True]
    admitted = app.registry.get_sample_value(
        "costwarden_admitted_pods_total",
        {
            "namespace": "ml-train",
            "cost_centre": "Sales-5045",
            "team": "nlp",
            "gpu_model": "a100-40gb",
            "capacity_type": "on-demand",
        },
    )
    assert admitted == 1.0


async def test_mutate_never_has_side_effects(tmp_path: Path) -> None:
    evaluator = ScriptedEvaluator(allow_with_estimate)
    app = build_app(tmp_path, evaluator)
    async with client(app) as http:
        await http.post("/mutate", json=fixture("008-mutate"))
    assert [side_effects for _, side_effects in evaluator.calls] == [False]


@pytest.mark.parametrize(
    "name", ["046-validate-pod-delete", "056-validate-pod-delete", "000-validate-namespace"]
)
async def test_deletes_and_kinds_without_an_estimate_pass_untouched(
    tmp_path: Path, name: str
) -> None:
    app = build_app(tmp_path, ScriptedEvaluator(lambda r: Verdict(allowed=True)))
    async with client(app) as http:
        answer = (await http.post("/mutate", json=fixture(name))).json()["response"]
    assert answer == {"uid": fixture(name)["request"]["uid"], "allowed": True}


async def test_a_delete_never_reaches_the_engine(tmp_path: Path) -> None:
    evaluator = ScriptedEvaluator(allow_with_estimate)
    app = build_app(tmp_path, evaluator)
    async with client(app) as http:
        await http.post("/validate", json=fixture("046-validate-pod-delete"))
    assert evaluator.calls == []


@pytest.mark.parametrize("looks_up_workloads", [True, False])
async def test_validating_a_scale_runs_off_the_event_loop_only_when_it_may_ask_the_cluster(
    tmp_path: Path, looks_up_workloads: bool
) -> None:
    threads: list[int] = []

    def record_thread(request: reviews.AdmissionRequest) -> Verdict:
        threads.append(threading.get_ident())
        return allow_with_estimate(request)

    app = build_app(
        tmp_path, ScriptedEvaluator(record_thread), looks_up_workloads=looks_up_workloads
    )
    async with client(app) as http:
        await http.post("/validate", json=fixture("034-validate-scale"))
        await http.post("/validate", json=fixture("009-validate"))
        answer = (await http.post("/mutate", json=fixture("034-validate-scale"))).json()
    assert decoded_patch(answer) == []  # a Scale changes no pod: nothing to annotate
    scale_thread, pod_thread, mutate_thread = threads
    assert pod_thread == threading.get_ident()  # pods: evaluated inline, never waiting
    # Validating a Scale may GET its workload from the cluster: off the loop, if there is one.
    assert (scale_thread != threading.get_ident()) == looks_up_workloads
    assert mutate_thread == threading.get_ident()  # repairing one never looks anything up


BAD_BODIES = [
    (b"", "empty body"),
    (b"{not json", "body is not JSON"),
    (b"[1, 2]", "body is JSON but not an object"),
    (b'"text"', "body is JSON but not an object"),
    (b'{"kind": "Pod", "apiVersion": "v1"}', "request: required field is missing"),
    (
        b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {}}',
        "apiVersion",
    ),
    (
        b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1",'
        b' "request": {"uid": "u", "operation": "PATCH"}}',
        "request.operation",
    ),
    (b"\xff\xfe\x00garbage", "body is not JSON"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_a_malformed_body_is_400_with_a_reason(
    tmp_path: Path, webhook: str, body: bytes, reason: str
) -> None:
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    async with client(app) as http:
        answer = await http.post(f"/{webhook}", content=body)
    assert answer.status_code == 400
    assert reason in answer.json()["reason"]
    invalid = app.registry.get_sample_value(
        "costwarden_admission_requests_total",
        {"webhook": webhook, "operation": "invalid", "kind": "other", "decision": "invalid"},
    )
    assert invalid == 1.0


async def test_a_body_over_the_limit_is_refused_with_413(tmp_path: Path) -> None:
    app = build_app(
        tmp_path,
        ScriptedEvaluator(allow_with_estimate),
        settings=local_settings(max_request_bytes=1000),
    )
    review = fixture("009-validate")
    async with client(app) as http:
        declared = await http.post("/validate", json=review)

        async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
            body = json.dumps(review).encode()
            for i in range(0, len(body), 256):
                yield body[i : i + 256]

        streamed = await http.post("/validate", content=chunks())
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert "exceeds 1000" in streamed.json()["reason"]


async def test_requests_and_violations_are_counted_with_bounded_labels(tmp_path: Path) -> None:
    violation = Violation("gpu", "gpu-limit", "deny", "[gpu-limit] too many")
    app = build_app(tmp_path, ScriptedEvaluator(lambda r: Verdict(False, (violation,))))
    async with client(app) as http:
        await http.post("/validate", json=fixture("009-validate"))
        await http.post("/validate", json=fixture("014-validate-deployment"))
    sample = app.registry.get_sample_value
    labels = {"webhook": "validate", "operation": "CREATE", "decision": "denied"}
    assert sample("costwarden_admission_requests_total", {**labels, "kind": "Pod"}) == 1.0
    assert sample("costwarden_admission_requests_total", {**labels, "kind": "Deployment"}) == 1.0
    assert (
        sample(
            "costwarden_policy_violations_total",
            {"policy": "gpu", "rule": "gpu-limit", "action": "deny"},
        )
        == 2.0
    )
    assert sample("costwarden_admission_duration_seconds_count", {"webhook": "validate"}) == 2.0


async def test_an_evaluation_failure_is_a_500_with_a_reason_and_counted_as_an_error(
    tmp_path: Path,
) -> None:
    def broken(request: reviews.AdmissionRequest) -> Verdict:
        raise KeyError("spec")

    app = build_app(tmp_path, ScriptedEvaluator(broken))
    async with client(app) as http:
        answer = await http.post("/validate", json=fixture("009-validate"))
    assert answer.status_code == 500
    assert "could not evaluate request" in answer.json()["reason"]
    errors = app.registry.get_sample_value(
        "costwarden_admission_requests_total",
        {"webhook": "validate", "operation": "CREATE", "kind": "Pod", "decision": "error"},
    )
    assert errors == 1.0


async def test_an_object_kubernetes_would_reject_is_a_400_naming_where(tmp_path: Path) -> None:
    def malformed(request: reviews.AdmissionRequest) -> Verdict:
        raise workloads.InvalidObject("expected a list", ("spec", "containers"))

    app = build_app(tmp_path, ScriptedEvaluator(malformed))
    async with client(app) as http:
        answer = await http.post("/validate", json=fixture("009-validate"))
    assert answer.status_code == 400
    assert answer.json()["reason"] == "request.object.spec.containers: expected a list"
    invalid = app.registry.get_sample_value(
        "costwarden_admission_requests_total",
        {"webhook": "validate", "operation": "CREATE", "kind": "Pod", "decision": "invalid"},
    )
    assert invalid == 1.0


async def test_denials_are_logged_at_info_and_warnings_only_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warn = Violation("p", "casing", "warn", "[casing] use lower case")
    deny = Violation("p", "gpu-limit", "deny", "[gpu-limit] too many")
    verdicts = iter([Verdict(True, (warn,)), Verdict(False, (deny,))])
    app = build_app(tmp_path, ScriptedEvaluator(lambda r: next(verdicts)))
    caplog.set_level("INFO", logger="costwarden.api.admitting")
    async with client(app) as http:
        await http.post("/validate", json=fixture("009-validate"))
        await http.post("/validate", json=fixture("009-validate"))
    lines = [r.getMessage() for r in caplog.records if r.name == "costwarden.api.admitting"]
    assert len(lines) == 1
    assert lines[0].startswith("denied Pod ml-train/train-a100 uid=")
    assert lines[0].endswith("deny p/gpu-limit")
