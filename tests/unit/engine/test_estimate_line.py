"""The estimate line every /validate answer carries: its figures are formatted once per pod
estimate and pod count, and never lent to another estimate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costwarden.engine import evaluating
from costwarden.estimating.estimates import (
    AcceleratorRequest,
    Breakdown,
    Placement,
    PodEstimate,
    Requests,
    WorkloadEstimate,
)


def pod_estimate(accelerator: str, gpus: int) -> PodEstimate:
    return PodEstimate(
        requests=Requests(
            cpu=Decimal(8),
            memory_gib=Decimal(64),
            accelerators=(AcceleratorRequest("nvidia.com/gpu", gpus, Decimal(gpus)),),
        ),
        placement=Placement("on-demand", "p4d.24xlarge", "A100", "aws", "us-east-1"),
        hourly=Breakdown(Decimal("1.5"), Decimal("0.25"), Decimal(accelerator)),
        currency="USD",
        catalog_version="test",
    )


def workload(pod: PodEstimate, *, name: str = "train", pods: int = 1) -> WorkloadEstimate:
    return WorkloadEstimate(
        kind="Deployment", name=name, namespace="ml-train", pod=pod, pods=Decimal(pods)
    )


@pytest.fixture(autouse=True)
def no_memo() -> None:
    evaluating._FIGURES.clear()


def test_the_line_names_the_workload_and_its_figures() -> None:
    line = evaluating.estimate_line(workload(pod_estimate("16", 4), pods=3))
    assert line == (
        "costwarden: Deployment ml-train/train ≈ $53.25/h ($38,872.50/month), "
        "3 pods × $17.75/h, 4× A100, p4d.24xlarge on-demand"
    )


def test_workloads_sharing_a_pod_estimate_each_get_their_own_name_and_count() -> None:
    shared = pod_estimate("16", 4)
    one = evaluating.estimate_line(workload(shared, name="a"))
    three = evaluating.estimate_line(workload(shared, name="b", pods=3))
    again = evaluating.estimate_line(workload(shared, name="c"))
    assert one == "costwarden: Deployment ml-train/a ≈ $17.75/h ($12,957.50/month), " + (
        "4× A100, p4d.24xlarge on-demand"
    )
    assert "ml-train/b ≈ $53.25/h" in three
    assert "3 pods × $17.75/h" in three
    assert again == one.replace("ml-train/a", "ml-train/c")


def test_an_entry_is_answered_only_for_the_estimate_it_was_made_for() -> None:
    """Keyed by id: should another estimate ever get the id of one the memo holds, the
    memo must not lend it the other's figures."""
    first, second = pod_estimate("16", 4), pod_estimate("2", 1)
    evaluating._FIGURES[(id(second), Decimal(1))] = (first, "≈ $0.00/h (borrowed)")
    line = evaluating.estimate_line(workload(second))
    assert "borrowed" not in line
    assert "≈ $3.75/h" in line
    assert "1× A100" in line


def test_the_memo_stays_bounded() -> None:
    for i in range(evaluating._MAX_FIGURES + 10):
        evaluating.estimate_line(workload(pod_estimate(str(i), 1)))
    assert len(evaluating._FIGURES) <= evaluating._MAX_FIGURES
