"""Hand-computed pod prices: each expected figure is written as arithmetic on catalog prices.

Notation in comments: W = the instance's weight (vCPU × $/vCPU-h + GiB × $/GiB-h + devices ×
model $/device-h); a pod on an instance pays price × (its own weight) / W.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.unit.estimating.sample_catalog import CPU, MEM, MODEL_HOURLY, SPOT_FACTOR

from costwarden import workloads
from costwarden.catalog.models import Catalog
from costwarden.estimating import estimate_object, estimate_pod, estimate_template
from costwarden.estimating.estimates import PodEstimate
from costwarden.workloads import InvalidObject

A100_40 = MODEL_HOURLY["a100-40gb"]
A100_80 = MODEL_HOURLY["a100-80gb"]
H100 = MODEL_HOURLY["h100-80gb"]
A10G = MODEL_HOURLY["a10g"]
L4 = MODEL_HOURLY["l4"]
T4 = MODEL_HOURLY["t4"]


def container(
    requests: dict[str, Any] | None = None,
    *,
    limits: dict[str, Any] | None = None,
    restart_policy: str | None = None,
    name: str = "c",
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    result: dict[str, Any] = {"name": name, "image": "busybox", "resources": resources}
    if restart_policy:
        result["restartPolicy"] = restart_policy
    return result


def pod_spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"containers": list(containers), **fields}


def affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
            }
        }
    }


def assert_money(actual: Decimal, expected: Decimal) -> None:
    # The model never rounds; a different order of exact operations may differ in the 28th
    # significant digit, so compare to a billionth of a cent.
    assert abs(actual - expected) < Decimal("1e-11"), f"{actual} != {expected}"


def share(price: str, *, vcpu: int, gib: int, devices: int, model: Decimal) -> Decimal:
    """price / W for an instance (the scale every part of its price is charged at)."""
    return Decimal(price) / (vcpu * CPU + gib * MEM + devices * model)


# --- AWS -------------------------------------------------------------------------------


def test_pod_that_fills_a_p4d_exactly_costs_exactly_its_on_demand_price(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "96", "memory": "1152Gi", "nvidia.com/gpu": "8"}),
        nodeSelector={"node.kubernetes.io/instance-type": "p4d.24xlarge"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.hourly.total == Decimal("21.957642")
    assert estimate.placement.instance_type == "p4d.24xlarge"
    assert estimate.placement.capacity_type == "on-demand"
    assert estimate.monthly == Decimal("21.957642") * 730


def test_train_a100_pod_pays_its_share_of_a_p4d(catalog: Catalog) -> None:
    # gpu-train-pod.yaml: init 2 cpu / 4Gi < app 32 cpu / 256Gi, 4 of 8 A100s.
    spec = pod_spec(
        container({"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "4"}),
        initContainers=[container({"cpu": "2", "memory": "4Gi"}, name="fetch")],
        nodeSelector={
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "karpenter.sh/capacity-type": "on-demand",
        },
    )
    k = share("21.957642", vcpu=96, gib=1152, devices=8, model=A100_40)
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.hourly.cpu, k * 32 * CPU)
    assert_money(estimate.hourly.memory, k * 256 * MEM)
    assert_money(estimate.hourly.accelerator, k * 4 * A100_40)
    assert estimate.requests.accelerator_devices == 4
    assert estimate.placement.accelerator_model == "a100-40gb"


def test_full_p4d_on_karpenter_spot_costs_the_spot_price(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "96", "memory": "1152Gi", "nvidia.com/gpu": "8"}),
        nodeSelector={
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "karpenter.sh/capacity-type": "spot",
        },
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert_money(estimate.hourly.total, Decimal("8.0"))


def test_eks_spot_without_a_spot_price_takes_the_fallback_discount(catalog: Catalog) -> None:
    # nightly-cronjob.yaml: g5.12xlarge has no spot price -> 5.672 × (1 − 0.6).
    spec = pod_spec(
        container({"cpu": "40", "memory": "160Gi", "nvidia.com/gpu": "4"}),
        nodeSelector={
            "node.kubernetes.io/instance-type": "g5.12xlarge",
            "eks.amazonaws.com/capacityType": "SPOT",
        },
    )
    k = Decimal("5.672") * SPOT_FACTOR / (48 * CPU + 192 * MEM + 4 * A10G)
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert_money(estimate.hourly.total, k * (40 * CPU + 160 * MEM + 4 * A10G))


def test_legacy_lifecycle_ec2spot_label_means_spot(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "48", "memory": "512Gi", "nvidia.com/gpu": "2"}),
        nodeSelector={"beta.kubernetes.io/instance-type": "p5.48xlarge", "lifecycle": "EC2Spot"},
    )
    k = share("20.0", vcpu=192, gib=2048, devices=8, model=H100)
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert_money(estimate.hourly.total, k * (48 * CPU + 512 * MEM + 2 * H100))


def test_several_allowed_instance_types_range_from_the_cheapest_to_the_dearest_share(
    catalog: Catalog,
) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        affinity=affinity(
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g5.xlarge", "g5.2xlarge", "g4dn.xlarge"],
                }
            ]
        ),
    )
    own = 2 * CPU + 8 * MEM
    on_g4dn = share("0.526", vcpu=4, gib=16, devices=1, model=T4) * (own + T4)
    on_g5 = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * (own + A10G)
    on_g5_2xl = share("1.212", vcpu=8, gib=32, devices=1, model=A10G) * (own + A10G)
    assert on_g4dn < on_g5 < on_g5_2xl  # the premise of this test
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, on_g4dn)
    assert_money(estimate.hourly.total, on_g5_2xl)  # the high end: what rules charge
    assert estimate.low_placement is not None
    assert estimate.low_placement.instance_type == "g4dn.xlarge"
    assert estimate.placement.instance_type == "g5.2xlarge"
    assert estimate.ranged
    assert estimate.priced
    assert any("3 instance types allowed" in r for r in estimate.range_reasons)


def test_a_bigger_instance_that_gives_a_smaller_share_is_the_low_end(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"karpenter.k8s.aws/instance-family": "g5"},
        affinity=affinity(
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g5.12xlarge", "g5.xlarge"],
                }
            ]
        ),
    )
    own = 2 * CPU + 8 * MEM + A10G
    on_xlarge = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * own
    on_12xlarge = share("5.672", vcpu=48, gib=192, devices=4, model=A10G) * own
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, min(on_xlarge, on_12xlarge))
    assert_money(estimate.hourly.total, max(on_xlarge, on_12xlarge))


def test_karpenter_instance_family_ranges_over_the_members_that_fit(catalog: Catalog) -> None:
    # 6 vCPU does not fit g5.xlarge (4); g5.2xlarge and g5.12xlarge fit.
    spec = pod_spec(
        container({"cpu": "6", "memory": "24Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"karpenter.k8s.aws/instance-family": "g5"},
    )
    own = 6 * CPU + 24 * MEM + A10G
    on_2xl = share("1.212", vcpu=8, gib=32, devices=1, model=A10G) * own
    on_12xl = share("5.672", vcpu=48, gib=192, devices=4, model=A10G) * own
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, min(on_2xl, on_12xl))
    assert_money(estimate.hourly.total, max(on_2xl, on_12xl))
    low_placement = estimate.low_placement or estimate.placement
    types = {estimate.placement.instance_type, low_placement.instance_type}
    assert types == {"g5.2xlarge", "g5.12xlarge"}
    assert any("that fit" in r for r in estimate.range_reasons)


def test_requests_beyond_the_instance_are_clamped_and_noted(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "128", "memory": "64Gi"}),
        nodeSelector={"node.kubernetes.io/instance-type": "m6i.xlarge"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    k = share("0.192", vcpu=4, gib=16, devices=0, model=Decimal(0))
    assert_money(estimate.hourly.total, Decimal("0.192"))  # the whole instance
    assert_money(estimate.hourly.cpu, k * 4 * CPU)
    assert any("do not fit m6i.xlarge" in a and "cpu 128 > 4" in a for a in estimate.assumptions)


def test_cpu_only_statefulset_pod_on_r6i(catalog: Catalog) -> None:
    # feature-store-sts.yaml: 2 vCPU and 48Gi (limit = request) of an 8 vCPU / 64 GiB r6i.
    spec = pod_spec(
        container({"cpu": "2", "memory": "48Gi"}, limits={"memory": "48Gi"}),
        nodeSelector={"node.kubernetes.io/instance-type": "r6i.2xlarge"},
    )
    k = share("0.504", vcpu=8, gib=64, devices=0, model=Decimal(0))
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.hourly.total, k * (2 * CPU + 48 * MEM))
    assert estimate.hourly.accelerator == 0


def test_a_whole_inferentia2_instance_costs_its_price(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "4", "memory": "16Gi", "aws.amazon.com/neuron": "1"}),
        nodeSelector={"node.kubernetes.io/instance-type": "inf2.xlarge"},
    )
    assert_money(estimate_pod(spec, catalog=catalog).hourly.total, Decimal("0.7582"))


def test_neuroncores_are_half_an_inferentia2_device_each(catalog: Catalog) -> None:
    spec = pod_spec(container({"cpu": "1", "memory": "4Gi", "aws.amazon.com/neuroncore": "1"}))
    estimate = estimate_pod(spec, catalog=catalog)
    # 1 NeuronCore = 1/2 device at 0.50 $/device-h, cpu/memory at fallback rates.
    assert_money(estimate.hourly.total, 1 * CPU + 4 * MEM + MODEL_HOURLY["inferentia2"] / 2)
    assert estimate.requests.accelerators[0].devices == Decimal("0.5")


# --- GCP -------------------------------------------------------------------------------


def test_full_a2_highgpu_1g_on_gke_spot_costs_its_spot_price(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "12", "memory": "85Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={
            "node.kubernetes.io/instance-type": "a2-highgpu-1g",
            "cloud.google.com/gke-spot": "true",
        },
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert estimate.placement.provider == "gcp"
    assert_money(estimate.hourly.total, Decimal("1.92802"))


def test_half_a_g2_standard_4_on_demand(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"node.kubernetes.io/instance-type": "g2-standard-4"},
    )
    k = share("0.706832", vcpu=4, gib=16, devices=1, model=L4)
    assert_money(estimate_pod(spec, catalog=catalog).hourly.total, k * (2 * CPU + 8 * MEM + L4))


def test_gke_spot_l4_without_instance_type_uses_model_spot_and_discounted_fallback(
    catalog: Catalog,
) -> None:
    # sweep-job.yaml trial pod: L4 spot 0.39 $/h; cpu/memory at fallback × (1 − 0.6).
    spec = pod_spec(
        container({"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={
            "cloud.google.com/gke-spot": "true",
            "cloud.google.com/gke-accelerator": "nvidia-l4",
        },
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert estimate.placement.accelerator_model == "l4"
    assert_money(estimate.hourly.cpu, 3 * CPU * SPOT_FACTOR)
    assert_money(estimate.hourly.memory, 12 * MEM * SPOT_FACTOR)
    assert_money(estimate.hourly.accelerator, Decimal("0.39"))


def test_gke_tpu_chips_on_spot(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "8", "memory": "32Gi", "google.com/tpu": "4"}),
        nodeSelector={
            "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
            "cloud.google.com/gke-spot": "true",
        },
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.accelerator_model == "tpu-v5e"
    assert_money(estimate.hourly.total, (8 * CPU + 32 * MEM) * SPOT_FACTOR + 4 * Decimal("0.48"))


def test_gke_preemptible_exists_means_spot(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "1Gi"}),
        affinity=affinity([{"key": "cloud.google.com/gke-preemptible", "operator": "Exists"}]),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert_money(estimate.hourly.total, (CPU + MEM) * SPOT_FACTOR)


# --- Azure -----------------------------------------------------------------------------


def test_full_nc24ads_on_aks_spot_costs_its_spot_price(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "24", "memory": "220Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={
            "node.kubernetes.io/instance-type": "Standard_NC24ads_A100_v4",
            "kubernetes.azure.com/scalesetpriority": "spot",
        },
        tolerations=[
            {
                "key": "kubernetes.azure.com/scalesetpriority",
                "operator": "Equal",
                "value": "spot",
                "effect": "NoSchedule",
            }
        ],
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert_money(estimate.hourly.total, Decimal("0.444"))
    assert not any("Pending" in a for a in estimate.assumptions)


def test_aks_spot_without_the_spot_toleration_is_noted_as_unschedulable(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "1Gi"}),
        nodeSelector={"kubernetes.azure.com/scalesetpriority": "spot"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert any("does not tolerate their taint" in a for a in estimate.assumptions)


def test_half_an_nd96_h100_on_demand(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "48", "memory": "950Gi", "nvidia.com/gpu": "4"}),
        nodeSelector={"node.kubernetes.io/instance-type": "Standard_ND96isr_H100_v5"},
    )
    k = share("98.32", vcpu=96, gib=1900, devices=8, model=H100)
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.hourly.total, k * (48 * CPU + 950 * MEM + 4 * H100))
    assert_money(estimate.hourly.total, Decimal("98.32") / 2)  # exactly half of everything


# --- MIG, shared GPUs and other accelerators --------------------------------------------


def test_mig_slice_named_by_gfd_product_is_a_seventh_of_that_gpu(catalog: Catalog) -> None:
    # mig-infer-pod.yaml: 2 + 0.1 cpu, 8Gi + 64Mi, one 1g.5gb slice of an A100 40GB;
    # spot or on-demand allowed -> on-demand.
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/mig-1g.5gb": "1"}),
        container({"cpu": "100m", "memory": "64Mi"}, name="sidecar"),
        nodeSelector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"},
        affinity=affinity(
            [
                {
                    "key": "karpenter.sh/capacity-type",
                    "operator": "In",
                    "values": ["spot", "on-demand"],
                }
            ]
        ),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "on-demand"
    assert estimate.placement.accelerator_model == "a100-40gb"
    expected = Decimal("2.1") * CPU + (8 + Decimal(64) / 1024) * MEM + A100_40 / 7
    assert_money(estimate.hourly.total, expected)
    assert any("conservative" in a for a in estimate.assumptions)


def test_mig_slice_on_a_pinned_p4d_pays_its_slice_share(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/mig-3g.20gb": "2"}),
        nodeSelector={"node.kubernetes.io/instance-type": "p4d.24xlarge"},
    )
    k = share("21.957642", vcpu=96, gib=1152, devices=8, model=A100_40)
    estimate = estimate_pod(spec, catalog=catalog)
    # two 3g slices = 6/7 of one A100
    assert_money(estimate.hourly.total, k * (2 * CPU + 8 * MEM + Decimal(6) / 7 * A100_40))


def test_unlabelled_10gb_mig_profile_ranges_over_the_80gb_gpus(catalog: Catalog) -> None:
    spec = pod_spec(container({"nvidia.com/mig-1g.10gb": "1"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.low_placement is not None
    assert estimate.low_placement.accelerator_model == "a100-80gb"
    assert estimate.placement.accelerator_model == "h100-80gb"
    assert_money(estimate.low_hourly.total, A100_80 / 7)
    assert_money(estimate.hourly.total, H100 / 7)
    assert estimate.requests.accelerator_devices == Decimal(1) / 7


def test_unlabelled_5gb_mig_profile_is_cut_from_an_a100_40gb(catalog: Catalog) -> None:
    spec = pod_spec(container({"nvidia.com/mig-7g.40gb": "1"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.accelerator_model == "a100-40gb"
    assert_money(estimate.hourly.total, A100_40)  # 7 of 7 slices


def test_mig_slice_on_h100_named_by_gke_label(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/mig-2g.20gb": "1"}),
        nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"},
    )
    assert_money(estimate_pod(spec, catalog=catalog).hourly.total, 2 * H100 / 7)


def test_gpus_on_single_strategy_mig_nodes_are_slices_of_the_parent(catalog: Catalog) -> None:
    # GFD labels single-strategy MIG nodes `<product>-MIG-<profile>`; nvidia.com/gpu there
    # is one slice each.
    spec = pod_spec(
        container({"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "2"}),
        nodeSelector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.requests.accelerators[0].resource == "nvidia.com/gpu"
    assert estimate.requests.accelerator_devices == Decimal(2) / 7
    assert_money(estimate.hourly.total, CPU + 4 * MEM + 2 * A100_40 / 7)
    pinned = estimate_pod(
        {
            **spec,
            "nodeSelector": {
                **spec["nodeSelector"],
                "node.kubernetes.io/instance-type": "p4d.24xlarge",
            },
        },
        catalog=catalog,
    )
    k = share("21.957642", vcpu=96, gib=1152, devices=8, model=A100_40)
    assert_money(pinned.hourly.total, k * (CPU + 4 * MEM + Decimal(2) / 7 * A100_40))


def test_shared_gpu_is_a_quarter_gpu_unless_annotated(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "2Gi", "nvidia.com/gpu.shared": "1"}),
        nodeSelector={"nvidia.com/gpu.product": "Tesla-T4"},
    )
    default = estimate_pod(spec, catalog=catalog)
    assert_money(default.hourly.total, CPU + 2 * MEM + T4 / 4)
    assert any("4 pods share one GPU" in a for a in default.assumptions)
    annotated = estimate_pod(
        spec, catalog=catalog, annotations={"costwarden.io/gpu-sharing-replicas": "2"}
    )
    assert_money(annotated.hourly.total, CPU + 2 * MEM + T4 / 2)


def test_amd_gpus_price_at_the_amd_model(catalog: Catalog) -> None:
    spec = pod_spec(container({"cpu": "8", "memory": "64Gi", "amd.com/gpu": "2"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.accelerator_model == "mi300x"
    assert_money(estimate.hourly.total, 8 * CPU + 64 * MEM + 2 * MODEL_HOURLY["mi300x"])


def test_habana_gaudi_devices(catalog: Catalog) -> None:
    spec = pod_spec(container({"cpu": "16", "memory": "128Gi", "habana.ai/gaudi": "8"}))
    expected = 16 * CPU + 128 * MEM + 8 * MODEL_HOURLY["gaudi2"]
    assert_money(estimate_pod(spec, catalog=catalog).hourly.total, expected)


def test_gpu_without_a_model_ranges_from_the_cheapest_to_the_dearest_model(
    catalog: Catalog,
) -> None:
    spec = pod_spec(container({"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, 4 * CPU + 16 * MEM + T4)
    assert_money(estimate.hourly.total, 4 * CPU + 16 * MEM + H100)
    assert estimate.placement.accelerator_model == "h100-80gb"
    assert (estimate.low_placement or estimate.placement).accelerator_model == "t4"
    assert estimate.priced
    assert any(
        "model not named: from t4 (low) to h100-80gb (high)" in r for r in estimate.range_reasons
    )


def test_karpenter_gpu_name_excluding_the_cheapest_moves_the_low_end(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/gpu": "1"}),
        affinity=affinity(
            [{"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "NotIn", "values": ["t4"]}]
        ),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, L4)
    assert_money(estimate.hourly.total, H100)


def test_several_named_models_range_over_those_alone(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/gpu": "2"}),
        affinity=affinity(
            [
                {
                    "key": "nvidia.com/gpu.product",
                    "operator": "In",
                    "values": ["NVIDIA-A10G", "NVIDIA-A100-SXM4-40GB"],
                }
            ]
        ),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert_money(estimate.low_hourly.total, 2 * A10G)
    assert_money(estimate.hourly.total, 2 * A100_40)
    assert any("several models allowed" in r for r in estimate.range_reasons)


def test_a_pod_pinned_to_one_catalogued_type_has_one_figure(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"node.kubernetes.io/instance-type": "g5.xlarge"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.low_hourly == estimate.hourly
    assert not estimate.ranged
    assert not estimate.range_reasons
    assert estimate.priced


# --- unpriced: what the catalog lacks is never guessed ------------------------------------


def test_a_gpu_pod_pinned_to_an_uncatalogued_type_is_unpriced_and_names_it(
    catalog: Catalog,
) -> None:
    # p5.4xlarge (one H100) is not in the test catalog: never the cheapest GPU's price.
    spec = pod_spec(
        container({"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"node.kubernetes.io/instance-type": "p5.4xlarge"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.unpriced == ("instance type p5.4xlarge not in the catalog",)
    assert not estimate.priced
    assert estimate.placement.instance_type == "p5.4xlarge"
    assert estimate.hourly.total == 0  # nothing known: never T4's $0.35
    assert estimate.requests.accelerator_devices == 1  # counted all the same


def test_a_cpu_pod_pinned_to_an_uncatalogued_type_is_unpriced_too(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "4Gi"}),
        nodeSelector={"node.kubernetes.io/instance-type": "x9z.mega"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.unpriced == ("instance type x9z.mega not in the catalog",)
    assert estimate.placement.instance_type == "x9z.mega"


def test_a_catalogued_type_beside_an_uncatalogued_one_is_a_lower_bound(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        affinity=affinity(
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g5.xlarge", "p5.4xlarge"],
                }
            ]
        ),
    )
    on_g5 = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * (2 * CPU + 8 * MEM + A10G)
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.unpriced == ("instance type p5.4xlarge not in the catalog",)
    assert_money(estimate.hourly.total, on_g5)


def test_an_instance_family_the_catalog_lacks_is_unpriced_not_inferred(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"karpenter.k8s.aws/instance-family": "p6"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.unpriced == ("instance family p6 not in the catalog",)
    assert estimate.requests.accelerator_devices == 1


def test_an_accelerator_resource_without_a_price_is_unpriced_and_still_counted(
    catalog: Catalog,
) -> None:
    without_tpus = catalog.model_copy(
        update={"accelerators": {k: v for k, v in catalog.accelerators.items() if k != "tpu-v5e"}}
    )
    spec = pod_spec(container({"cpu": "8", "memory": "32Gi", "google.com/tpu": "4"}))
    estimate = estimate_pod(spec, catalog=without_tpus)
    assert estimate.unpriced == ("google.com/tpu has no price in the catalog",)
    assert_money(estimate.hourly.total, 8 * CPU + 32 * MEM)  # what is known: a lower bound
    assert estimate.requests.accelerator_devices == 4


def test_unpriced_mig_slices_count_their_share_of_a_gpu(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/mig-3g.20gb": "2"}),
        nodeSelector={"node.kubernetes.io/instance-type": "p5.4xlarge"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert not estimate.priced
    assert estimate.requests.accelerator_devices == Decimal(6) / 7


# --- effective requests -----------------------------------------------------------------


def test_largest_init_container_wins_over_smaller_apps(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "1Gi"}),
        container({"cpu": "1", "memory": "1Gi"}, name="d"),
        initContainers=[container({"cpu": "8", "memory": "1Gi"}, name="i")],
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.requests.cpu == 8  # max(8, 1 + 1)
    assert estimate.requests.memory_gib == 2  # max(1, 1 + 1)
    assert_money(estimate.hourly.total, 8 * CPU + 2 * MEM)


def test_sidecars_add_to_apps_and_to_later_init_containers(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "2Gi"}),
        initContainers=[
            container({"cpu": "1", "memory": "1Gi"}, name="proxy", restart_policy="Always"),
            container({"cpu": "4", "memory": "1Gi"}, name="migrate"),
            container({"cpu": "500m", "memory": "3Gi"}, name="log", restart_policy="Always"),
        ],
    )
    estimate = estimate_pod(spec, catalog=catalog)
    # apps = 2 + 1 + 0.5 = 3.5 cpu, 2 + 1 + 3 = 6 GiB; init "migrate" = 4 + 1 = 5 cpu, 2 GiB
    assert estimate.requests.cpu == 5
    assert estimate.requests.memory_gib == 6
    assert_money(estimate.hourly.total, 5 * CPU + 6 * MEM)


def test_pod_overhead_is_added_after_the_max(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "1Gi"}),
        initContainers=[container({"cpu": "2"}, name="i")],
        overhead={"cpu": "250m", "memory": "120Mi"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.requests.cpu == Decimal("2.25")
    assert_money(estimate.hourly.total, Decimal("2.25") * CPU + (1 + Decimal(120) / 1024) * MEM)


def test_limits_stand_in_for_missing_requests_per_resource(catalog: Catalog) -> None:
    spec = pod_spec(container({"cpu": "500m"}, limits={"cpu": "2", "memory": "4Gi"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.requests.cpu == Decimal("0.5")  # the request, not the limit
    assert estimate.requests.memory_gib == 4  # defaulted from the limit
    assert_money(estimate.hourly.total, Decimal("0.5") * CPU + 4 * MEM)


def test_gpu_given_only_as_a_limit_counts(catalog: Catalog) -> None:
    spec = pod_spec(
        container(limits={"nvidia.com/gpu": 2}),
        nodeSelector={"nvidia.com/gpu.product": "NVIDIA-A10G"},
    )
    assert_money(estimate_pod(spec, catalog=catalog).hourly.total, 2 * A10G)


def test_pod_level_resources_replace_the_container_sum(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1", "memory": "1Gi"}),
        resources={"requests": {"cpu": "3"}, "limits": {"memory": "8Gi"}},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert (estimate.requests.cpu, estimate.requests.memory_gib) == (3, 8)


def test_best_effort_pod_costs_nothing_and_says_why(catalog: Catalog) -> None:
    estimate = estimate_pod(pod_spec(container()), catalog=catalog)
    assert estimate.hourly.total == 0
    assert any("BestEffort" in a for a in estimate.assumptions)


# --- capacity type ----------------------------------------------------------------------


def test_reserved_only_is_priced_at_on_demand(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "96", "memory": "1152Gi", "nvidia.com/gpu": "8"}),
        nodeSelector={
            "node.kubernetes.io/instance-type": "p4d.24xlarge",
            "karpenter.sh/capacity-type": "reserved",
        },
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "reserved"
    assert estimate.hourly.total == Decimal("21.957642")


def test_not_in_spot_is_on_demand_without_the_open_choice_note(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1"}),
        affinity=affinity(
            [{"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["ON_DEMAND"]}]
        ),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "on-demand"
    assert not any("no capacity type required" in a for a in estimate.assumptions)


def test_spot_toleration_alone_does_not_make_a_pod_spot(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1"}),
        tolerations=[{"key": "cloud.google.com/gke-spot", "operator": "Exists"}],
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "on-demand"
    assert any("tolerates the Spot taint" in a for a in estimate.assumptions)


def test_affinity_terms_are_alternatives_and_range_over_each(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        affinity=affinity(
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["p4d.24xlarge"],
                }
            ],
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "In",
                    "values": ["g5.xlarge"],
                }
            ],
        ),
    )
    own = 2 * CPU + 8 * MEM
    on_g5 = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * (own + A10G)
    on_p4d = share("21.957642", vcpu=96, gib=1152, devices=8, model=A100_40) * (own + A100_40)
    estimate = estimate_pod(spec, catalog=catalog)
    assert (estimate.low_placement or estimate.placement).instance_type == "g5.xlarge"
    assert estimate.placement.instance_type == "p4d.24xlarge"
    assert_money(estimate.low_hourly.total, on_g5)
    assert_money(estimate.hourly.total, on_p4d)
    assert any("2 node-affinity terms" in r for r in estimate.range_reasons)


# --- workloads and errors ----------------------------------------------------------------


def _deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ml-infer"},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": pod_spec(
                    container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
                    nodeSelector={"node.kubernetes.io/instance-type": "g5.xlarge"},
                )
            },
        },
    }


def test_deployment_costs_replicas_times_one_pod(catalog: Catalog) -> None:
    estimate = estimate_object(_deployment(3), catalog=catalog)
    assert estimate is not None
    one = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * (2 * CPU + 8 * MEM + A10G)
    assert estimate.pods == 3
    assert_money(estimate.hourly.total, 3 * one)
    assert_money(estimate.monthly, 3 * one * 730)
    assert estimate.accelerator_devices == 3


def test_a_scaled_template_costs_its_new_replicas(catalog: Catalog) -> None:
    template = workloads.pod_template(_deployment(2))
    assert template is not None
    scaled = estimate_template(workloads.with_replicas(template, 4), catalog=catalog)
    one = share("1.006", vcpu=4, gib=16, devices=1, model=A10G) * (2 * CPU + 8 * MEM + A10G)
    assert scaled.pods == 4
    assert_money(scaled.hourly.total, 4 * one)


def test_objects_that_run_no_pods_have_no_estimate(catalog: Catalog) -> None:
    assert estimate_object({"apiVersion": "v1", "kind": "ConfigMap"}, catalog=catalog) is None


def test_bad_quantity_is_reported_with_its_path_in_the_object(catalog: Catalog) -> None:
    obj = _deployment(1)
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "two"
    with pytest.raises(InvalidObject) as caught:
        estimate_object(obj, catalog=catalog)
    assert caught.value.path == (
        "spec", "template", "spec", "containers", 0, "resources", "requests", "cpu",
    )  # fmt: skip


def test_estimates_are_deterministic(catalog: Catalog) -> None:
    first: PodEstimate = estimate_pod(_deployment(1)["spec"]["template"]["spec"], catalog=catalog)
    second = estimate_pod(_deployment(1)["spec"]["template"]["spec"], catalog=catalog)
    assert first == second


def test_gke_spot_does_not_exist_means_not_spot(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "1"}),
        affinity=affinity([{"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"}]),
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.capacity_type == "on-demand"
    assert any("may run on on-demand or reserved" in a for a in estimate.assumptions)


def test_not_in_instance_types_narrows_a_family(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}),
        nodeSelector={"karpenter.k8s.aws/instance-family": "g5"},
        affinity=affinity(
            [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "NotIn",
                    "values": ["g5.xlarge", "g5.12xlarge"],
                }
            ]
        ),
    )
    on_2xl = share("1.212", vcpu=8, gib=32, devices=1, model=A10G) * (2 * CPU + 8 * MEM + A10G)
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.instance_type == "g5.2xlarge"
    assert_money(estimate.hourly.total, on_2xl)
    assert not estimate.ranged


def test_neurondevice_is_the_neuron_plugins_other_name_for_a_device(catalog: Catalog) -> None:
    spec = pod_spec(container({"aws.amazon.com/neurondevice": "2"}))
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.placement.accelerator_model == "inferentia2"
    assert_money(estimate.hourly.total, 2 * MODEL_HOURLY["inferentia2"])


def test_bad_sharing_annotation_is_noted_and_the_default_used(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/gpu.shared": "1"}),
        nodeSelector={"nvidia.com/gpu.product": "Tesla-T4"},
    )
    for value in ("lots", "0", "²", "9" * 5000, "1025", " 2"):
        estimate = estimate_pod(
            spec, catalog=catalog, annotations={"costwarden.io/gpu-sharing-replicas": value}
        )
        assert_money(estimate.hourly.total, T4 / 4)
        (note,) = [a for a in estimate.assumptions if "is not a whole number" in a]
        assert note.endswith("is not a whole number from 1 to 1024; 4 assumed")
        assert len(note) < 200  # named briefly, never quoted in full
    assert any(
        "'lots' is not a whole number" in a
        for a in estimate_pod(
            spec, catalog=catalog, annotations={"costwarden.io/gpu-sharing-replicas": "lots"}
        ).assumptions
    )


def test_unknown_gpu_label_value_makes_the_pod_unpriced(catalog: Catalog) -> None:
    spec = pod_spec(
        container({"nvidia.com/gpu": "1"}),
        nodeSelector={"nvidia.com/gpu.product": "NVIDIA-B200"},
    )
    estimate = estimate_pod(spec, catalog=catalog)
    assert estimate.unpriced == (
        "accelerator model nvidia.com/gpu.product=NVIDIA-B200 not in the catalog",
    )
    assert estimate.hourly.total == 0  # never a T4's price
    assert estimate.requests.accelerator_devices == 1


def test_suspended_job_is_priced_as_if_resumed(catalog: Catalog) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "queued"},
        "spec": {
            "suspend": True,
            "parallelism": 2,
            "template": {"spec": pod_spec(container({"cpu": "1"}))},
        },
    }
    estimate = estimate_object(job, catalog=catalog)
    assert estimate is not None
    assert_money(estimate.hourly.total, 2 * CPU)
    assert any("suspended" in a for a in estimate.assumptions)
