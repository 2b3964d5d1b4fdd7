"""A small price catalog built in Python, so these tests do not move when bundled prices do.

Instance prices are the REFERENCE.md list prices (AWS us-east-1 2026-07-20, GCP
us-central1 2026-07-30, Azure East US snapshot). Accelerator $/device-h are round test
figures of the right magnitude; fallback rates are OpenCost's defaults.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from costwarden.catalog.models import (
    Accelerator,
    Catalog,
    Fallback,
    InstanceAccelerators,
    InstanceType,
)

CPU = Decimal("0.031611")
"""Fallback $/vCPU-h."""
MEM = Decimal("0.004237")
"""Fallback $/GiB-h."""
SPOT_FACTOR = 1 - Decimal("0.6")
"""1 − the fallback Spot discount."""

MODEL_HOURLY = {
    "a100-40gb": Decimal("2.74"),
    "a100-80gb": Decimal("3.43"),
    "h100-80gb": Decimal("6.88"),
    "a10g": Decimal("1.00"),
    "l4": Decimal("0.70"),
    "t4": Decimal("0.35"),
    "mi300x": Decimal("4.50"),
    "inferentia2": Decimal("0.50"),
    "gaudi2": Decimal("1.30"),
    "tpu-v5e": Decimal("1.20"),
}

_DATE = date(2026, 7, 20)


def _accelerator(model: str, **fields: Any) -> Accelerator:
    return Accelerator(
        model=model, hourly=MODEL_HOURLY[model], source="test", effective_date=_DATE, **fields
    )


def _instance(
    name: str,
    provider: str,
    vcpu: int,
    memory_gib: int,
    on_demand: str,
    *,
    gpus: tuple[str, int] | None = None,
    spot: str | None = None,
) -> InstanceType:
    return InstanceType(
        name=name,
        provider=provider,  # type: ignore[arg-type]
        region={"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}[provider],
        vcpu=Decimal(vcpu),
        memory_gib=Decimal(memory_gib),
        accelerators=InstanceAccelerators(model=gpus[0], count=gpus[1]) if gpus else None,
        on_demand_hourly=Decimal(on_demand),
        spot_hourly=Decimal(spot) if spot else None,
        source="REFERENCE.md",
        effective_date=_DATE,
    )


def build_catalog() -> Catalog:
    accelerators = [
        _accelerator(
            "a100-40gb",
            memory_gib=Decimal(40),
            mig_slices=7,
            aliases=("NVIDIA-A100-SXM4-40GB", "nvidia-tesla-a100", "a100"),
        ),
        _accelerator(
            "a100-80gb",
            memory_gib=Decimal(80),
            mig_slices=7,
            aliases=("NVIDIA-A100-SXM4-80GB", "nvidia-a100-80gb"),
        ),
        _accelerator(
            "h100-80gb",
            memory_gib=Decimal(80),
            mig_slices=7,
            aliases=("NVIDIA-H100-80GB-HBM3", "nvidia-h100-80gb", "h100"),
        ),
        _accelerator("a10g", memory_gib=Decimal(24), aliases=("NVIDIA-A10G", "a10g")),
        _accelerator("l4", spot_hourly=Decimal("0.39"), aliases=("NVIDIA-L4", "nvidia-l4", "l4")),
        _accelerator("t4", aliases=("Tesla-T4", "nvidia-tesla-t4", "t4")),
        _accelerator("mi300x", resource="amd.com/gpu", vendor="amd"),
        _accelerator(
            "inferentia2",
            resource="aws.amazon.com/neuron",
            vendor="aws",
            aliases=("inferentia2",),
        ),
        _accelerator("gaudi2", resource="habana.ai/gaudi", vendor="intel"),
        _accelerator(
            "tpu-v5e",
            resource="google.com/tpu",
            vendor="google",
            spot_hourly=Decimal("0.48"),
            aliases=("tpu-v5-lite-podslice",),
        ),
    ]
    instances = [
        _instance("p4d.24xlarge", "aws", 96, 1152, "21.957642", gpus=("a100-40gb", 8), spot="8.0"),
        _instance("p4de.24xlarge", "aws", 96, 1152, "27.44705", gpus=("a100-80gb", 8)),
        _instance("p5.48xlarge", "aws", 192, 2048, "55.04", gpus=("h100-80gb", 8), spot="20.0"),
        _instance("g5.xlarge", "aws", 4, 16, "1.006", gpus=("a10g", 1), spot="0.44"),
        _instance("g5.2xlarge", "aws", 8, 32, "1.212", gpus=("a10g", 1)),
        _instance("g5.12xlarge", "aws", 48, 192, "5.672", gpus=("a10g", 4)),
        _instance("g4dn.xlarge", "aws", 4, 16, "0.526", gpus=("t4", 1)),
        _instance("inf2.xlarge", "aws", 4, 16, "0.7582", gpus=("inferentia2", 1)),
        _instance("m6i.xlarge", "aws", 4, 16, "0.192"),
        _instance("r6i.2xlarge", "aws", 8, 64, "0.504"),
        _instance(
            "a2-highgpu-1g", "gcp", 12, 85, "3.673385", gpus=("a100-40gb", 1), spot="1.92802"
        ),
        _instance("g2-standard-4", "gcp", 4, 16, "0.706832", gpus=("l4", 1), spot="0.397336"),
        _instance(
            "Standard_NC24ads_A100_v4",
            "azure",
            24,
            220,
            "3.673",
            gpus=("a100-80gb", 1),
            spot="0.444",
        ),
        _instance("Standard_ND96isr_H100_v5", "azure", 96, 1900, "98.32", gpus=("h100-80gb", 8)),
    ]
    aliases = {}
    for accelerator in accelerators:
        aliases[accelerator.model] = accelerator.model
        for alias in accelerator.aliases:
            aliases[alias.lower()] = accelerator.model
    return Catalog(
        name="test",
        version="test-1",
        currency="USD",
        fallback=Fallback(
            cpu_hourly=CPU,
            memory_gib_hourly=MEM,
            spot_discount=Decimal("0.6"),
            source="OpenCost defaults",
            effective_date=_DATE,
        ),
        accelerators={a.model: a for a in accelerators},
        instance_types={i.name: i for i in instances},
        accelerator_aliases=aliases,
    )
