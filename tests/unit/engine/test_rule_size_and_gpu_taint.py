"""The sizeEnvelope rule (pod vCPU/memory/$ per hour, instance size and type) and the
gpuTaint rule (GPU pool hygiene)."""

from __future__ import annotations

import pytest

from costwarden.workloads import BUILT_IN_CONTROLLERS

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def envelope(**bounds: object) -> dict:
    return {"name": "envelope", "sizeEnvelope": bounds}


@pytest.mark.parametrize(
    ("bounds", "pod_args", "expected"),
    [
        ({"maxPodVcpu": 8}, {"cpu": "16"}, "pod vCPU 16 is above the envelope's maxPodVcpu of 8"),
        (
            {"maxPodMemoryGib": 32},
            {"memory": "64Gi"},
            "pod memory 64 GiB is above the envelope's maxPodMemoryGib of 32 GiB",
        ),
    ],
)
def test_envelope_denies_pods_over_a_request_bound(
    pod, policies, judge, bounds, pod_args, expected
):
    (violation,) = judge(pod(**pod_args), policies(envelope(**bounds))).denials
    assert expected in violation.message


def test_envelope_denies_pods_over_the_hourly_bound(pod, policies, judge, catalog):
    obj = pod(gpus=8, node_selector={"node.kubernetes.io/instance-type": "p4d.24xlarge"})
    verdict = judge(obj, policies(envelope(maxHourly="10")))
    (violation,) = verdict.denials
    assert verdict.estimate is not None
    assert verdict.estimate.pod.hourly.total > 10
    assert "pod cost $" in violation.message
    assert "above the envelope's maxHourly of $10.00/h" in violation.message


def test_envelope_checks_the_pinned_instance_type(pod, policies, judge, catalog):
    obj = pod(gpus=8, node_selector={"node.kubernetes.io/instance-type": "p4d.24xlarge"})
    rule = envelope(maxInstanceVcpu=64, allowedInstanceTypes=["g5.*", "g6.*"])
    messages = [v.message for v in judge(obj, policies(rule)).denials]
    vcpu = catalog.instance_types["p4d.24xlarge"].vcpu
    assert any(f"instance p4d.24xlarge vCPU {vcpu} is above" in m for m in messages)
    assert any(
        "instance type p4d.24xlarge is not in the envelope (g5.*, g6.*)" in m for m in messages
    )


def test_envelope_allows_an_instance_type_matching_a_glob(pod, policies, judge):
    obj = pod(gpus=1, node_selector={"node.kubernetes.io/instance-type": "g5.xlarge"})
    assert judge(obj, policies(envelope(allowedInstanceTypes=["g5.*"]))).allowed


def test_envelope_allows_pods_inside_it(pod, policies, judge):
    assert judge(
        pod(cpu="2", memory="4Gi"), policies(envelope(maxPodVcpu=4, maxPodMemoryGib=8))
    ).allowed


HYGIENE = {"name": "gpu-taint", "gpuTaint": {}}


def test_gpu_pod_without_the_gpu_toleration_is_reported(pod, policies, judge):
    (violation,) = judge(pod(gpus=1), policies(HYGIENE)).denials
    assert violation.message.startswith(
        "[gpu-taint] GPU pod does not tolerate the GPU nodes' taint nvidia.com/gpu:NoSchedule"
    )


@pytest.mark.parametrize(
    "toleration",
    [
        GPU_TOLERATION,
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists"},
        {"operator": "Exists"},
    ],
)
def test_gpu_pod_tolerating_the_taint_passes(pod, policies, judge, toleration):
    assert judge(pod(gpus=1, tolerations=[toleration]), policies(HYGIENE)).allowed


def test_gpu_pod_tolerating_another_effect_is_reported(pod, policies, judge):
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}
    assert not judge(pod(gpus=1, tolerations=[toleration]), policies(HYGIENE)).allowed


@pytest.mark.parametrize("toleration", [GPU_TOLERATION, {"operator": "Exists"}])
def test_pod_without_gpus_must_not_tolerate_the_gpu_taint(pod, policies, judge, toleration):
    (violation,) = judge(pod(tolerations=[toleration]), policies(HYGIENE)).denials
    assert "pod without GPUs tolerates the GPU taint nvidia.com/gpu:NoSchedule" in violation.message
    assert "keep them from scaling down" in violation.message


def test_daemonsets_and_their_pods_may_tolerate_the_gpu_taint(pod, workload, policies, judge):
    daemonset = workload("DaemonSet", pod(tolerations=[GPU_TOLERATION]))
    assert judge(daemonset, policies(HYGIENE)).allowed
    owned = pod(tolerations=[GPU_TOLERATION])
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u", "controller": True}
    ]
    controller = "system:serviceaccount:kube-system:daemon-set-controller"
    assert judge(owned, policies(HYGIENE), user=controller).allowed
    # The same claim from anyone else is only a claim: the pod squats GPU nodes like any other.
    (violation,) = judge(owned, policies(HYGIENE), user="alice").denials
    assert "pod without GPUs tolerates the GPU taint" in violation.message


@pytest.mark.parametrize(
    "user",
    [
        "system:serviceaccount:kube-system:kube-proxy",  # an add-on's account in kube-system
        "system:serviceaccount:kube-system:daemon-set-controller-x",
        "system:kube-controller-manager-impostor",
    ],
)
def test_an_owner_claim_from_kube_system_accounts_that_are_no_controller_is_not_believed(
    pod, policies, judge, user
):
    owned = pod(tolerations=[GPU_TOLERATION])
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u", "controller": True}
    ]
    assert not judge(owned, policies(HYGIENE), user=user).allowed


def test_a_controller_the_platform_team_trusts_is_believed(pod, policies, judge, context):
    owned = pod(tolerations=[GPU_TOLERATION])
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u", "controller": True}
    ]
    operator = "system:serviceaccount:gpu-operator:gpu-operator"
    trusted = context(controllers=BUILT_IN_CONTROLLERS | {operator})
    assert judge(owned, policies(HYGIENE), user=operator, context=trusted).allowed
    assert not judge(owned, policies(HYGIENE), user=operator).allowed


def test_taint_value_in_the_rule_must_match_equal_tolerations(pod, policies, judge):
    rule = {"name": "gpu-taint", "gpuTaint": {"value": "present"}}
    wrong = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    assert not judge(pod(gpus=1, tolerations=[wrong]), policies(rule)).allowed


def test_either_half_of_hygiene_can_be_switched_off(pod, policies, judge):
    only_gpu = {"name": "gpu-taint", "gpuTaint": {"otherPodsMustNotTolerate": False}}
    assert judge(pod(tolerations=[GPU_TOLERATION]), policies(only_gpu)).allowed
    only_cpu = {"name": "gpu-taint", "gpuTaint": {"gpuPodsMustTolerate": False}}
    assert judge(pod(gpus=1), policies(only_cpu)).allowed
