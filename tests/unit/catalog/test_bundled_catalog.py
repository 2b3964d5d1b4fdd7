"""The bundled catalog: every type docs/prices.md cites, at exactly the cited prices and dates."""

from __future__ import annotations

import fnmatch
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from costwarden.catalog import loading
from costwarden.catalog.models import Catalog

AWS_SOURCE = "AWS Pricing API via aws/karpenter-provider-aws zz_generated.pricing_aws.go"
GCP_SOURCE = "Cloud Billing Catalog via Cyclenerd/google-cloud-pricing-cost-calculator"
D = Decimal

# Copied by hand from docs/prices.md, "Instance types" (the cited list prices and their sources).
# name: (provider, region, vcpu, GiB, accelerator model, count, on-demand, spot or None)
REFERENCE_TYPES = {
    "p5.48xlarge": ("aws", "us-east-1", 192, 2048, "h100-80gb", 8, "55.04", "21.7"),
    "p5en.48xlarge": ("aws", "us-east-1", 192, 2048, "h200", 8, "63.296", None),
    "p4d.24xlarge": ("aws", "us-east-1", 96, 1152, "a100-40gb", 8, "21.957642", "8.05"),
    "p4de.24xlarge": ("aws", "us-east-1", 96, 1152, "a100-80gb", 8, "27.44705", "9.35"),
    "p3.2xlarge": ("aws", "us-east-1", 8, 61, "v100-16gb", 1, "3.06", "0.38"),
    "g5.xlarge": ("aws", "us-east-1", 4, 16, "a10g", 1, "1.006", "0.44"),
    "g5.2xlarge": ("aws", "us-east-1", 8, 32, "a10g", 1, "1.212", None),
    "g5.12xlarge": ("aws", "us-east-1", 48, 192, "a10g", 4, "5.672", None),
    "g5.48xlarge": ("aws", "us-east-1", 192, 768, "a10g", 8, "16.288", None),
    "g6.xlarge": ("aws", "us-east-1", 4, 16, "l4", 1, "0.8048", None),
    "g6e.xlarge": ("aws", "us-east-1", 4, 32, "l40s", 1, "1.861", None),
    "g4dn.xlarge": ("aws", "us-east-1", 4, 16, "t4", 1, "0.526", None),
    "inf2.xlarge": ("aws", "us-east-1", 4, 16, "inferentia2", 1, "0.7582", None),
    "inf2.48xlarge": ("aws", "us-east-1", 192, 768, "inferentia2", 12, "12.98127", None),
    "a2-highgpu-1g": ("gcp", "us-central1", 12, 85, "a100-40gb", 1, "3.673385", "1.92802"),
    "a2-highgpu-8g": ("gcp", "us-central1", 96, 680, "a100-40gb", 8, "29.38708", "15.42416"),
    "a2-ultragpu-1g": ("gcp", "us-central1", 12, 170, "a100-80gb", 1, "5.0688", "2.7595"),
    "a3-highgpu-8g": ("gcp", "us-central1", 208, 1872, "h100-80gb", 8, "88.49", "50.6095"),
    "g2-standard-4": ("gcp", "us-central1", 4, 16, "l4", 1, "0.706832", "0.397336"),
    "g2-standard-48": ("gcp", "us-central1", 48, 192, "l4", 4, "4.001665", "2.249632"),
    "Standard_NC24ads_A100_v4": ("azure", "eastus", 24, 220, "a100-80gb", 1, "3.673", None),
    "Standard_ND96isr_H100_v5": ("azure", "eastus", 96, 1900, "h100-80gb", 8, "98.32", None),
}
SOURCES = {
    "aws": (AWS_SOURCE, date(2026, 7, 20)),
    "gcp": (GCP_SOURCE, date(2026, 7, 30)),
    "azure": ("Azure/karpenter-provider-azure", date(2023, 12, 18)),
}

# The documented per-device rule: reference AWS instance, minus its vCPUs and GiB at the
# fallback rates, divided by its device count.
REFERENCE_INSTANCE = {
    "a100-40gb": "p4d.24xlarge",
    "a100-80gb": "p4de.24xlarge",
    "h100-80gb": "p5.48xlarge",
    "h200": "p5en.48xlarge",
    "v100-16gb": "p3.2xlarge",
    "a10g": "g5.xlarge",
    "l4": "g6.xlarge",
    "l40s": "g6e.xlarge",
    "t4": "g4dn.xlarge",
    "inferentia2": "inf2.xlarge",
    "gaudi": "dl1.24xlarge",
    "b200": "p6-b200.48xlarge",
    "trainium": "trn1.2xlarge",
    "a10": "Standard_NV36ads_A10_v5",  # no AWS type carries an A10
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return loading.bundled_catalog()


@pytest.mark.parametrize("name", sorted(REFERENCE_TYPES))
def test_bundled_catalog_has_every_reference_type_at_its_cited_price(
    catalog: Catalog, name: str
) -> None:
    provider, region, vcpu, memory, model, count, on_demand, spot = REFERENCE_TYPES[name]
    instance = catalog.instance_types[name]
    assert (instance.provider, instance.region) == (provider, region)
    assert (instance.vcpu, instance.memory_gib) == (D(vcpu), D(memory))
    assert instance.accelerators is not None
    assert (instance.accelerators.model, instance.accelerators.count) == (model, count)
    assert type(instance.on_demand_hourly) is Decimal
    assert instance.on_demand_hourly == D(on_demand)
    assert instance.spot_hourly == (None if spot is None else D(spot))
    source, effective = SOURCES[provider]
    assert source in instance.source
    assert instance.effective_date == effective


def test_spot_ranges_are_cited_as_their_midpoints(catalog: Catalog) -> None:
    p5 = catalog.instance_types["p5.48xlarge"]
    assert p5.spot_hourly == (D("17.6") + D("25.8")) / 2
    assert "midpoint" in p5.source


def test_every_price_has_a_source_and_an_effective_date(catalog: Catalog) -> None:
    priced = [catalog.fallback, *catalog.accelerators.values(), *catalog.instance_types.values()]
    for item in priced:
        assert item.source.strip()
        assert isinstance(item.effective_date, date)


def test_every_money_field_is_a_decimal(catalog: Catalog) -> None:
    money = [catalog.fallback.cpu_hourly, catalog.fallback.memory_gib_hourly]
    for accelerator in catalog.accelerators.values():
        money += [accelerator.hourly, *filter(None, [accelerator.spot_hourly])]
    for instance in catalog.instance_types.values():
        money += [instance.on_demand_hourly, *filter(None, [instance.spot_hourly])]
    assert {type(value) for value in money} == {Decimal}


def test_fallback_is_opencosts_default_prices(catalog: Catalog) -> None:
    assert catalog.currency == "USD"
    assert catalog.fallback.cpu_hourly == D("0.031611")
    assert catalog.fallback.memory_gib_hourly == D("0.004237")
    assert "OpenCost" in catalog.fallback.source
    assert "spotDiscount" in catalog.fallback.source


def test_version_is_date_like(catalog: Catalog) -> None:
    assert date.fromisoformat(catalog.version)


@pytest.mark.parametrize("model", sorted(REFERENCE_INSTANCE))
def test_device_price_is_its_reference_instance_less_cpu_and_memory_per_device(
    catalog: Catalog, model: str
) -> None:
    accelerator = catalog.accelerators[model]
    instance = catalog.instance_types[REFERENCE_INSTANCE[model]]
    assert instance.accelerators is not None
    assert instance.accelerators.model == model
    host = (
        instance.vcpu * catalog.fallback.cpu_hourly
        + instance.memory_gib * catalog.fallback.memory_gib_hourly
    )
    expected = (instance.on_demand_hourly - host) / instance.accelerators.count
    assert accelerator.hourly == expected
    assert REFERENCE_INSTANCE[model] in accelerator.source
    assert accelerator.effective_date == instance.effective_date
    if accelerator.spot_hourly is not None:
        assert instance.spot_hourly is not None
        ratio = instance.spot_hourly / instance.on_demand_hourly
        assert abs(accelerator.spot_hourly - expected * ratio) < D("0.000001")


@pytest.mark.parametrize(
    ("model", "resource"),
    [
        ("a100-40gb", "nvidia.com/gpu"),
        ("h100-80gb", "nvidia.com/gpu"),
        ("inferentia2", "aws.amazon.com/neuron"),
        ("gaudi", "habana.ai/gaudi"),
    ],
)
def test_accelerators_name_the_resource_that_requests_them(
    catalog: Catalog, model: str, resource: str
) -> None:
    assert catalog.accelerators[model].resource == resource


def test_a100_and_h100_split_into_seven_mig_slices(catalog: Catalog) -> None:
    for model in ("a100-40gb", "a100-80gb", "h100-80gb"):
        assert catalog.accelerators[model].mig_slices == 7
    assert catalog.accelerators["t4"].mig_slices is None


@pytest.mark.parametrize(
    ("label_value", "model"),
    [
        # NVIDIA GPU feature discovery: nvidia.com/gpu.product
        ("NVIDIA-A100-SXM4-40GB", "a100-40gb"),
        ("NVIDIA-A100-SXM4-80GB", "a100-80gb"),
        ("NVIDIA-H100-80GB-HBM3", "h100-80gb"),
        ("NVIDIA-H200", "h200"),
        ("NVIDIA-A10G", "a10g"),
        ("NVIDIA-L4", "l4"),
        ("NVIDIA-L40S", "l40s"),
        ("Tesla-T4", "t4"),
        ("Tesla-V100-SXM2-16GB", "v100-16gb"),
        # GKE: cloud.google.com/gke-accelerator
        ("nvidia-tesla-a100", "a100-40gb"),
        ("nvidia-a100-80gb", "a100-80gb"),
        ("nvidia-h100-80gb", "h100-80gb"),
        ("nvidia-l4", "l4"),
        ("nvidia-tesla-t4", "t4"),
        ("nvidia-tesla-v100", "v100-16gb"),
        # Karpenter: karpenter.k8s.aws/instance-gpu-name
        ("a100", "a100-40gb"),
        ("h100", "h100-80gb"),
        ("t4", "t4"),
        ("a10g", "a10g"),
        ("l4", "l4"),
        ("l40s", "l40s"),
        ("v100", "v100-16gb"),
        ("h200", "h200"),
        ("b200", "b200"),
        ("NVIDIA-B200", "b200"),
        ("NVIDIA-A10", "a10"),
        # case does not matter
        ("nvidia-a100-sxm4-40gb", "a100-40gb"),
    ],
)
def test_real_node_label_values_resolve_to_accelerator_models(
    catalog: Catalog, label_value: str, model: str
) -> None:
    accelerator = catalog.accelerator_for(label_value)
    assert accelerator is not None
    assert accelerator.model == model


def test_unknown_label_value_resolves_to_nothing(catalog: Catalog) -> None:
    assert catalog.accelerator_for("NVIDIA-GB300") is None


def test_every_placement_in_the_fixture_manifests_is_in_the_catalog(
    catalog: Catalog, manifest_fixtures: Path
) -> None:
    selectors: list[dict[str, str]] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("nodeSelector"), dict):
                selectors.append(node["nodeSelector"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for path in sorted(manifest_fixtures.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            collect(document)
    instance_types = {
        s["node.kubernetes.io/instance-type"]
        for s in selectors
        if "node.kubernetes.io/instance-type" in s
    }
    gpu_labels = {
        value
        for s in selectors
        for key, value in s.items()
        if key in ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator")
    }
    assert instance_types >= {"p4d.24xlarge", "g5.2xlarge", "g5.12xlarge", "r6i.2xlarge"}
    assert instance_types <= set(catalog.instance_types)
    assert gpu_labels
    assert all(catalog.accelerator_for(value) is not None for value in gpu_labels)


@pytest.mark.parametrize(
    ("provider", "examples"),
    [
        ("aws", ["m6i.xlarge", "m7i.2xlarge", "c6i.4xlarge", "r6i.2xlarge"]),
        ("gcp", ["n2-standard-2", "n2-standard-16"]),
        ("azure", ["Standard_D4s_v5", "Standard_D16s_v5"]),
    ],
)
def test_common_cpu_only_types_are_bundled_for_each_cloud(
    catalog: Catalog, provider: str, examples: list[str]
) -> None:
    for name in examples:
        instance = catalog.instance_types[name]
        assert instance.provider == provider
        assert instance.accelerators is None
        assert instance.on_demand_hourly > 0


def test_cpu_only_prices_match_the_cited_generated_price_files(catalog: Catalog) -> None:
    # Spot-checked against the files named in each source (see docs/prices.md).
    assert catalog.instance_types["r6i.2xlarge"].on_demand_hourly == D("0.504")
    assert catalog.instance_types["m6i.xlarge"].on_demand_hourly == D("0.192")
    assert catalog.instance_types["n2-standard-16"].on_demand_hourly == D("0.776944")
    assert catalog.instance_types["Standard_D4s_v5"].on_demand_hourly == D("0.192")


def test_spot_price_falls_back_to_the_discount_when_no_figure_is_known(catalog: Catalog) -> None:
    r6i = catalog.instance_types["r6i.2xlarge"]
    assert r6i.spot_hourly is None
    assert catalog.spot_hourly(r6i) == D("0.504") * (1 - catalog.fallback.spot_discount)
    p4d = catalog.instance_types["p4d.24xlarge"]
    assert catalog.spot_hourly(p4d) == D("8.05")
    h200 = catalog.accelerators["h200"]
    assert catalog.accelerator_spot_hourly(h200) == h200.hourly * (
        1 - catalog.fallback.spot_discount
    )


def test_the_bundled_catalog_is_read_afresh_and_alike_each_time(catalog: Catalog) -> None:
    """No module keeps it (the caller does): a second read is a new, equal catalog."""
    again = loading.bundled_catalog()
    assert again is not catalog
    assert again == catalog


# Spot-checked by hand against the files the sources name (docs/prices.md, keys [a], [c], [z]).
# name: (vcpu, GiB, accelerator model, count, on-demand, spot or None, source text, effective)
KARPENTER_AWS = "pricing/zz_generated.pricing_aws.go (commit 031e72b"
CYCLENERD = "pricing.yml (commit 0166a59"
KARPENTER_AZURE = "Azure/karpenter-provider-azure"
ADDED_TYPES = {
    "p5.4xlarge": (16, 256, "h100-80gb", 1, "6.88", None, KARPENTER_AWS, date(2026, 1, 19)),
    "p6-b200.48xlarge": (192, 2048, "b200", 8, "113.9328", None, KARPENTER_AWS, date(2026, 1, 19)),
    "g6e.48xlarge": (192, 1536, "l40s", 8, "30.13118", None, KARPENTER_AWS, date(2026, 1, 19)),
    "gr6.4xlarge": (16, 128, "l4", 1, "1.5392", None, KARPENTER_AWS, date(2026, 1, 19)),
    "trn1.32xlarge": (128, 512, "trainium", 16, "21.5", None, KARPENTER_AWS, date(2026, 1, 19)),
    "a3-highgpu-1g": (26, 234, "h100-80gb", 1, "11.06125", "4.424469", CYCLENERD, date(2025, 3, 6)),
    "a3-megagpu-8g": (
        208,
        1872,
        "h100-80gb",
        8,
        "92.937588",
        "37.391837",
        CYCLENERD,
        date(2025, 3, 6),
    ),
    "g2-standard-96": (96, 384, "l4", 8, "8.00333", "3.148768", CYCLENERD, date(2025, 3, 6)),
    "Standard_NC4as_T4_v3": (4, 28, "t4", 1, "0.526", None, KARPENTER_AZURE, date(2023, 12, 18)),
    "Standard_ND96amsr_A100_v4": (
        96,
        1900,
        "a100-80gb",
        8,
        "32.77",
        None,
        KARPENTER_AZURE,
        date(2023, 12, 18),
    ),
    "Standard_NV72ads_A10_v5": (
        72,
        880,
        "a10",
        2,
        "6.52",
        None,
        KARPENTER_AZURE,
        date(2023, 12, 18),
    ),
}


@pytest.mark.parametrize("name", sorted(ADDED_TYPES))
def test_added_accelerated_types_are_at_their_cited_prices(catalog: Catalog, name: str) -> None:
    vcpu, memory, model, count, on_demand, spot, source, effective = ADDED_TYPES[name]
    instance = catalog.instance_types[name]
    assert (instance.vcpu, instance.memory_gib) == (D(vcpu), D(memory))
    assert instance.accelerators is not None
    assert (instance.accelerators.model, instance.accelerators.count) == (model, count)
    assert instance.on_demand_hourly == D(on_demand)
    assert instance.spot_hourly == (None if spot is None else D(spot))
    assert source in instance.source
    assert instance.effective_date == effective


def test_gcp_figures_rounded_from_the_snapshot_quote_it_exactly(catalog: Catalog) -> None:
    a3 = catalog.instance_types["a3-highgpu-1g"]
    assert "11.0612499878219 / 4.42446871232877" in a3.source
    assert D("11.0612499878219").quantize(D("0.000001")) == a3.on_demand_hourly
    assert a3.spot_hourly is not None
    assert D("4.42446871232877").quantize(D("0.000001")) == a3.spot_hourly


# Every current accelerator family of the three clouds a user can name, in at least one size.
FAMILIES = {
    "aws": ["p4d", "p4de", "p5", "p5en", "p6-b200", "g4dn", "g5", "g6", "g6e", "gr6", "inf2",
            "trn1", "trn1n", "dl1"],
    "gcp": ["a2-highgpu", "a2-ultragpu", "a3-highgpu", "a3-megagpu", "g2-standard"],
    "azure": ["Standard_NC*as_T4_v3", "Standard_NC*s_v3", "Standard_NC*ads_A100_v4",
              "Standard_ND96asr_v4", "Standard_ND96amsr_A100_v4", "Standard_ND96isr_H100_v5",
              "Standard_NV*ads_A10_v5"],
}  # fmt: skip
# The families docs/prices.md lists as not bundled (no dated list price could be cited).
NOT_BUNDLED = [
    "p5e.48xlarge",
    "trn2.48xlarge",
    "p6-b300.48xlarge",
    "a3-ultragpu-8g",
    "a4-highgpu-8g",
    "Standard_NC40ads_H100_v5",
    "Standard_ND96isr_MI300X_v5",
]


@pytest.mark.parametrize("provider", sorted(FAMILIES))
def test_every_named_accelerator_family_is_bundled(catalog: Catalog, provider: str) -> None:
    names = [i.name for i in catalog.instance_types.values() if i.provider == provider]
    for family in FAMILIES[provider]:
        if "*" in family:
            matching = [n for n in names if fnmatch.fnmatchcase(n, family)]
        else:
            matching = [n for n in names if n.split(".")[0] == family or n.startswith(family + "-")]
        assert matching, f"no {provider} {family} type is bundled"
        assert all(catalog.instance_types[n].accelerators is not None for n in matching)


def test_what_is_not_bundled_is_said_in_the_prices_page(
    catalog: Catalog, pytestconfig: pytest.Config
) -> None:
    page = (pytestconfig.rootpath / "docs" / "prices.md").read_text(encoding="utf-8")
    section = page[page.index("### Not bundled") :]
    for name in NOT_BUNDLED:
        assert name not in catalog.instance_types
        assert f"`{name}`" in section, name
    assert "`google.com/tpu`" in section
    assert "`amd.com/gpu`" in section


def raw_entries() -> list[tuple[str, dict[str, object]]]:
    """Every priced entry of the bundled file as written (before any model reads it)."""
    (document,) = yaml.safe_load_all(loading.BUNDLED.read_text(encoding="utf-8"))
    spec = document["spec"]
    entries = [("spec.fallback", spec["fallback"])]
    for key, field in (("accelerators", "model"), ("instanceTypes", "name")):
        entries += [(f"spec.{key}[{entry[field]}]", entry) for entry in spec[key]]
    return entries


def test_every_bundled_entry_is_written_with_a_source_and_an_effective_date() -> None:
    entries = raw_entries()
    assert len(entries) > 100
    for where, entry in entries:
        source = entry.get("source")
        assert isinstance(source, str), where
        assert source.strip(), where
        assert isinstance(entry.get("effectiveDate"), date), where
        # A snapshot without a date of its own is no source: nothing assumes one.
        assert "undated" not in source.lower(), where
        assert "assumed" not in source.lower(), where


def test_every_spot_figure_says_where_it_comes_from() -> None:
    for where, entry in raw_entries():
        if entry.get("spotHourly") is not None:
            assert "spot" in str(entry["source"]).lower(), where
