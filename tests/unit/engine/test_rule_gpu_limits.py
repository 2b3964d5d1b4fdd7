"""The gpuLimits rule: accelerators per pod and per workload (pods at once × per pod)."""

from __future__ import annotations

import pytest

PER_POD = {"name": "max-gpus", "gpuLimits": {"maxPerPod": 4}}
PER_WORKLOAD = {"name": "max-gpus-total", "gpuLimits": {"maxPerWorkload": 16}}


def test_denies_pod_over_gpu_limit_without_exception(pod, policies, judge):
    verdict = judge(pod(gpus=8), policies(PER_POD))
    (violation,) = verdict.denials
    assert violation.message.startswith(
        "[max-gpus] pod requests 8 GPUs, above the limit of 4 per pod — "
        "request at most 4 GPUs per pod"
    )
    assert violation.numbers == {"gpus": "8", "limit": "4"}


@pytest.mark.parametrize("gpus", [0, 1, 4])
def test_allows_pods_at_or_under_the_limit(pod, policies, judge, gpus):
    assert judge(pod(gpus=gpus), policies(PER_POD)).allowed


def test_workload_limit_multiplies_replicas_by_gpus_per_pod(pod, workload, policies, judge):
    verdict = judge(workload("Deployment", pod(gpus=4), replicas=5), policies(PER_WORKLOAD))
    (violation,) = verdict.denials
    assert (
        "Deployment p runs 5 pods × 4 GPUs = 20 GPUs, above the limit of 16 per workload"
        in violation.message
    )
    assert violation.numbers["gpus"] == "20"


def test_workload_limit_counts_job_parallelism(pod, workload, policies, judge):
    assert not judge(workload("Job", pod(gpus=2), replicas=9), policies(PER_WORKLOAD)).allowed
    assert judge(workload("Job", pod(gpus=2), replicas=8), policies(PER_WORKLOAD)).allowed


def test_mig_slices_count_as_fractions_of_a_device(pod, policies, judge):
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "1", "memory": "1Gi", "nvidia.com/mig-1g.5gb": "7"},
        "limits": {"nvidia.com/mig-1g.5gb": "7"},
    }
    obj["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}
    rule = {"name": "one-gpu", "gpuLimits": {"maxPerPod": "0.5"}}
    verdict = judge(obj, policies(rule))
    (violation,) = verdict.denials
    assert "pod requests 1 GPUs" in violation.message
