"""The estimate line every /validate answer carries: the workload, its figures and where it
runs, in one line `kubectl` shows as a warning."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from costwarden import schedules
from costwarden.engine import lines
from costwarden.estimating.estimates import (
    AcceleratorRequest,
    Breakdown,
    Placement,
    PodEstimate,
    Requests,
    WorkloadEstimate,
)
from costwarden.memos import Memo, Memos


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


def test_the_line_names_the_workload_and_its_figures() -> None:
    line = lines.estimate_line(workload(pod_estimate("16", 4), pods=3))
    assert line == (
        "costwarden: Deployment ml-train/train ≈ $53.25/h ($38,872.50/month), "
        "3 pods × $17.75/h, 4× A100, p4d.24xlarge on-demand"
    )


def test_workloads_sharing_a_pod_estimate_each_get_their_own_name_and_count() -> None:
    shared = pod_estimate("16", 4)
    one = lines.estimate_line(workload(shared, name="a"))
    three = lines.estimate_line(workload(shared, name="b", pods=3))
    again = lines.estimate_line(workload(shared, name="c"))
    assert one == "costwarden: Deployment ml-train/a ≈ $17.75/h ($12,957.50/month), " + (
        "4× A100, p4d.24xlarge on-demand"
    )
    assert "ml-train/b ≈ $53.25/h" in three
    assert "3 pods × $17.75/h" in three
    assert again == one.replace("ml-train/a", "ml-train/c")


def test_a_line_too_long_for_kubectl_becomes_two_whole_statements_never_cut() -> None:
    said = lines.estimate_lines(workload(pod_estimate("16", 4), name="x" * 30, pods=3))
    assert said == (
        f"costwarden: Deployment ml-train/{'x' * 30} ≈ $53.25/h ($38,872.50/month)",
        f"costwarden: Deployment ml-train/{'x' * 30} runs 3 pods × $17.75/h, 4× A100, "
        "p4d.24xlarge on-demand",
    )
    assert all(len(line) <= 120 for line in said)


def test_a_name_longer_than_any_line_is_kept_whole() -> None:
    said = lines.estimate_lines(workload(pod_estimate("16", 4), name="x" * 200))
    assert all("x" * 200 in line for line in said)
    assert not any(line.endswith("…") for line in said)


def test_a_range_shows_both_ends_and_the_models_it_spans() -> None:
    low = Breakdown(Decimal("1.5"), Decimal("0.25"), Decimal("0.35"))
    pod = replace(
        pod_estimate("6.88", 1),
        placement=Placement("on-demand", None, "h100-80gb"),
        low=low,
        low_placement=Placement("on-demand", None, "t4"),
        range_reasons=("nvidia.com/gpu: model not named",),
    )
    (line,) = lines.estimate_lines(workload(pod))
    assert line == (
        "costwarden: Deployment ml-train/train ≈ $2.10–$8.63/h ($1,533.00–$6,299.90/month), "
        "1× GPU (t4 to h100-80gb), on-demand"
    )


def test_an_unpriced_estimate_names_what_is_missing_and_the_way_out() -> None:
    pod = replace(
        pod_estimate("0", 1),
        hourly=Breakdown(Decimal(0), Decimal(0), Decimal(0)),
        placement=Placement("on-demand", "p5.4xlarge"),
        unpriced=("instance type p5.4xlarge not in the catalog",),
    )
    said = lines.estimate_lines(workload(pod, name="h100-box"))
    assert said == (
        "costwarden: Deployment ml-train/h100-box is unpriced: instance type p5.4xlarge not in "
        "the catalog.",
        "costwarden: add it to a catalog (docs/cost-model.md#adding-a-price).",
        "costwarden: Deployment ml-train/h100-box runs 1× GPU, p5.4xlarge on-demand",
    )
    assert all(len(line) <= 120 for line in said)


def test_figures_kept_in_memos_are_answered_only_for_the_estimate_they_were_made_for() -> None:
    """Kept by the estimate's identity: should another estimate get the id of one the memo
    holds, it must not be lent the other's figures."""
    first, second = pod_estimate("16", 4), pod_estimate("2", 1)
    memos = Memos()
    memos.lines.put((id(second), Decimal(1), None), (first, "≈ $0.00/h (borrowed)"))
    line = lines.estimate_line(workload(second), memos=memos)
    assert "borrowed" not in line
    assert "≈ $3.75/h" in line
    assert lines.estimate_line(workload(second), memos=memos) == line


def test_the_memo_of_figures_stays_bounded() -> None:
    memos = Memos(lines=Memo(entries=8, size=8))
    for i in range(20):
        lines.estimate_line(workload(pod_estimate(str(i), 1)), memos=memos)
    assert len(memos.lines) <= 8


def test_a_cronjob_line_shows_its_cost_per_run_and_per_month_not_730_hours() -> None:
    nightly = schedules.cronjob_runs("0 2 * * *", None, schedules.run_length(7200, None))
    estimate = workload(pod_estimate("16", 4))._replace(kind="CronJob", runs=nightly)
    line = lines.estimate_line(estimate)
    # 17.75 $/h × 2 h a run = 35.50 a run; × 365/12 runs = 1,079.79 a month.
    assert "≈ $17.75/h ($35.50/run, $1,079.79/month)" in line
    unknown = estimate._replace(runs=schedules.cronjob_runs("0 2 * * *", None, None))
    assert "≈ $17.75/h (per running hour)" in lines.estimate_line(unknown)


def test_a_remembered_line_is_never_lent_to_a_workload_that_runs_otherwise() -> None:
    memos = Memos()
    shared = pod_estimate("16", 4)
    job = workload(shared)._replace(
        kind="Job", runs=schedules.Runs(schedules.run_length(3600, None))
    )
    deployment = lines.estimate_line(workload(shared), memos=memos)
    once = lines.estimate_line(job, memos=memos)
    assert "/month" in deployment
    assert "($17.75/run)" in once
