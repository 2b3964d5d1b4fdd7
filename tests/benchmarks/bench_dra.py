"""How long estimating a pod that asks for GPUs through DRA takes, next to the same pod
asking for them as an extended resource.

The pod of tests/fixtures/dra/train-8xh100.yaml (8 H100s through a ResourceClaimTemplate,
its DeviceClasses beside it), estimated with warm memos as the webhook keeps them, and the
same pod with `nvidia.com/gpu: 8` and the GPU feature discovery label for H100s instead.
A pod naming a claim is memoised by its spec and the DRA objects' generation, so the warm
figures are memo hits; the third is the claim pod as the first one after every change to
the DRA objects (the generation moves on each call): its claims read, its requests and
placement read again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures/dra"


def main() -> None:
    sys.path.insert(0, str(HERE))
    import yaml
    from timing import per_call_us

    from costwarden import estimating
    from costwarden.catalog import loading
    from costwarden.estimating import claims
    from costwarden.memos import Memos

    objects: list[dict[str, Any]] = []
    for name in ("deviceclasses.yaml", "train-8xh100.yaml"):
        objects.extend(yaml.safe_load_all((FIXTURES / name).read_text()))
    dra = claims.StaticDraObjects(objects)
    spec = next(o for o in objects if o["kind"] == "Pod")["spec"]
    plain = {
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "containers": [
            {
                "name": "trainer",
                "image": "x",
                "resources": {
                    "requests": {"cpu": "8", "memory": "64Gi"},
                    "limits": {"nvidia.com/gpu": "8"},
                },
            }
        ],
    }
    catalog = loading.bundled_catalog()
    memos = Memos()

    class Changing:
        """The same objects, changed (a new generation) at every look."""

        def __init__(self) -> None:
            self.count = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(dra, name)

        def generation(self) -> int:
            self.count += 1
            return self.count

    changing = Changing()

    def after_a_change() -> object:
        return estimating.estimate_pod(
            spec, catalog=catalog, memos=memos, dra=changing, namespace="ml-train"
        )

    def through_dra() -> object:
        return estimating.estimate_pod(
            spec, catalog=catalog, memos=memos, dra=dra, namespace="ml-train"
        )

    def as_resource() -> object:
        return estimating.estimate_pod(
            plain, catalog=catalog, memos=memos, dra=dra, namespace="ml-train"
        )

    for estimate_of in (through_dra, as_resource, after_a_change):
        estimate = estimate_of()
        assert isinstance(estimate, estimating.estimates.PodEstimate)
        assert estimate.requests.accelerator_devices == 8
    dra_us = per_call_us(through_dra)
    plain_us = per_call_us(as_resource)
    changed_us = per_call_us(after_a_change, number=200)
    print(f"8 H100s through a ResourceClaimTemplate: {dra_us:8.2f} µs an estimate (memo hit)")
    print(f"8 H100s as nvidia.com/gpu:               {plain_us:8.2f} µs an estimate (memo hit)")
    print(f"the claim pod after a change to the DRA objects: {changed_us:8.2f} µs")
    print(f"ratio claim/plain: {dra_us / plain_us:.1f}×")
    print(f"ratio after a change/plain: {changed_us / plain_us:.1f}×")
