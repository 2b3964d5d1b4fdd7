"""Finding pod templates and counting the pods that run at once, per workload kind."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from costwarden import workloads

SPEC = {"containers": [{"name": "c", "image": "busybox"}]}


def workload(kind: str, api_version: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "w", "namespace": "ns", **metadata},
        "spec": spec,
    }


def template(**fields: Any) -> dict[str, Any]:
    return {"template": {"metadata": {"labels": {"app": "x"}}, "spec": SPEC}, **fields}


def test_a_pod_is_its_own_template_with_one_pod() -> None:
    found = workloads.pod_template(workload("Pod", "v1", SPEC))
    assert found is not None
    assert (found.kind, found.name, found.namespace, found.pointer, found.pods) == (
        "Pod", "w", "ns", "", 1,
    )  # fmt: skip
    assert found.spec is SPEC


def test_controller_created_pod_is_named_by_its_generate_name() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}, "spec": SPEC}
    found = workloads.pod_template(pod)
    assert found is not None
    assert found.name == "web-"


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [
        ("Deployment", "apps/v1"),
        ("ReplicaSet", "apps/v1"),
        ("StatefulSet", "apps/v1"),
        ("ReplicationController", "v1"),
    ],
)
def test_replicated_workloads_run_their_replicas(kind: str, api_version: str) -> None:
    found = workloads.pod_template(workload(kind, api_version, template(replicas=5)))
    assert found is not None
    assert found.pods == 5
    assert found.pointer == "/spec/template"
    assert found.metadata == {"labels": {"app": "x"}}


def test_missing_replicas_default_to_one_as_the_api_server_does() -> None:
    found = workloads.pod_template(workload("Deployment", "apps/v1", template()))
    assert found is not None
    assert found.pods == 1
    assert any("replicas not set" in a for a in found.assumptions)


def test_zero_replicas_run_no_pods() -> None:
    found = workloads.pod_template(workload("StatefulSet", "apps/v1", template(replicas=0)))
    assert found is not None
    assert found.pods == 0


def test_daemonset_assumes_one_node_unless_annotated() -> None:
    plain = workloads.pod_template(workload("DaemonSet", "apps/v1", template()))
    assert plain is not None
    assert plain.pods == 1
    assert any("assumed 1 node" in a for a in plain.assumptions)
    annotated = workloads.pod_template(
        workload(
            "DaemonSet",
            "apps/v1",
            template(),
            annotations={"costwarden.io/expected-nodes": "12"},
        )
    )
    assert annotated is not None
    assert annotated.pods == 12


@pytest.mark.parametrize(
    ("fields", "pods"),
    [({}, 1), ({"parallelism": 4}, 4), ({"parallelism": 4, "completions": 2}, 2),
     ({"parallelism": 4, "completions": 16}, 4), ({"completions": 3}, 1)],
)  # fmt: skip
def test_job_runs_parallelism_pods_but_never_more_than_completions(
    fields: dict[str, Any], pods: int
) -> None:
    found = workloads.pod_template(workload("Job", "batch/v1", template(**fields)))
    assert found is not None
    assert found.pods == pods


def test_cronjob_runs_its_job_template_and_notes_concurrency() -> None:
    spec = {
        "schedule": "0 2 * * *",
        "jobTemplate": {"spec": template(parallelism=3)},
    }
    found = workloads.pod_template(workload("CronJob", "batch/v1", spec))
    assert found is not None
    assert found.pods == 3
    assert found.pointer == "/spec/jobTemplate/spec/template"
    assert any("concurrencyPolicy Allow" in a for a in found.assumptions)


def test_kinds_without_pods_and_lookalike_custom_resources_have_no_template() -> None:
    assert workloads.pod_template({"apiVersion": "v1", "kind": "ConfigMap"}) is None
    assert workloads.pod_template(workload("Job", "example.com/v1", template())) is None
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 4}}
    assert workloads.pod_template(scale) is None


def test_with_replicas_scales_a_template() -> None:
    found = workloads.pod_template(workload("Deployment", "apps/v1", template(replicas=2)))
    assert found is not None
    scaled = workloads.with_replicas(found, 4)
    assert scaled.pods == Decimal(4)
    assert scaled.spec is found.spec


def test_malformed_workload_names_the_path() -> None:
    with pytest.raises(workloads.InvalidObject) as caught:
        workloads.pod_template(workload("Deployment", "apps/v1", template(replicas="many")))
    assert caught.value.path == ("spec", "replicas")
    with pytest.raises(workloads.InvalidObject) as caught:
        workloads.pod_template(workload("Job", "batch/v1", {"template": []}))
    assert caught.value.path == ("spec", "template")


def test_counts_past_kubernetes_int32_are_invalid_not_priced() -> None:
    too_many = 2**31  # replicas, parallelism and completions are int32 in the API
    with pytest.raises(workloads.InvalidObject) as caught:
        workloads.pod_template(workload("Deployment", "apps/v1", template(replicas=too_many)))
    assert caught.value.path == ("spec", "replicas")
    annotations = {workloads.EXPECTED_NODES_ANNOTATION: str(too_many)}
    with pytest.raises(workloads.InvalidObject):
        workloads.pod_template(
            workload("DaemonSet", "apps/v1", template(), annotations=annotations)
        )
    assert workloads.scale_replicas({"spec": {"replicas": 2**31 - 1}}) == 2**31 - 1


@pytest.mark.parametrize(
    ("fixture", "kind", "pods"),
    [
        ("009-validate-pod-create-ml-train-train-a100.json", "Pod", 1),
        ("014-validate-deployment-create-ml-train-llm-server.json", "Deployment", 2),
        ("015-validate-replicaset-create-ml-train-llm-server-69cc8c784f.json", "ReplicaSet", 2),
        ("020-validate-job-create-ml-dev-hparam-sweep.json", "Job", 4),
        ("029-validate-cronjob-create-ml-train-nightly-retrain.json", "CronJob", 1),
        ("030-validate-statefulset-create-ml-train-feature-cache.json", "StatefulSet", 3),
        ("033-validate-daemonset-create-ml-train-dcgm-exporter.json", "DaemonSet", 1),
    ],
)
def test_objects_a_real_api_server_sent(
    fixture: str, kind: str, pods: int, admission_object: Callable[[str], dict[str, Any]]
) -> None:
    found = workloads.pod_template(admission_object(fixture))
    assert found is not None
    assert (found.kind, found.pods) == (kind, pods)
    assert found.spec["containers"]


def test_a_cronjob_carries_its_runs_a_month_and_run_length() -> None:
    spec = {
        "schedule": "0 2 * * *",
        "timeZone": "Europe/Berlin",
        "jobTemplate": {"spec": template(parallelism=3, activeDeadlineSeconds=3600)},
    }
    found = workloads.pod_template(workload("CronJob", "batch/v1", spec))
    assert found is not None
    assert found.runs is not None
    assert (found.runs.schedule, found.runs.time_zone) == ("0 2 * * *", "Europe/Berlin")
    assert found.runs.per_month == Decimal(365) / 12
    assert found.runs.hours == 1
    # The Scale of a workload keeps how it runs.
    assert workloads.with_replicas(found, 2).runs == found.runs


def test_a_job_runs_once_for_the_length_its_annotation_states() -> None:
    annotations = {"costwarden.io/expected-runtime": "90m"}
    found = workloads.pod_template(workload("Job", "batch/v1", template(), annotations=annotations))
    assert found is not None
    assert found.runs is not None
    assert (found.runs.per_month, found.runs.hours) == (None, Decimal("1.5"))


def test_workloads_that_run_on_have_no_runs() -> None:
    found = workloads.pod_template(workload("Deployment", "apps/v1", template(replicas=2)))
    assert found is not None
    assert found.runs is None


@pytest.mark.parametrize(
    ("fields", "path", "says"),
    [
        ({"schedule": "0 2 * *"}, ("spec", "schedule"), "is not a cron expression of 5 fields"),
        ({"schedule": 7}, ("spec", "schedule"), "expected a cron schedule"),
        ({}, ("spec", "schedule"), "expected a cron schedule"),
        (
            {"schedule": "@daily", "timeZone": "Mars/Olympus"},
            ("spec", "timeZone"),
            "not in the IANA time zone database",
        ),
    ],
)
def test_a_schedule_or_zone_the_api_server_would_refuse_names_its_path(
    fields: dict[str, Any], path: tuple[str, ...], says: str
) -> None:
    spec = {"jobTemplate": {"spec": template()}, **fields}
    with pytest.raises(workloads.InvalidObject, match=says) as caught:
        workloads.pod_template(workload("CronJob", "batch/v1", spec))
    assert caught.value.path == path
