from __future__ import annotations

from datetime import UTC, datetime

from costwarden.spend import queries

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def test_spent_is_the_integral_of_the_run_rate_over_the_period_at_the_scrape_step() -> None:
    rendered = queries.render(queries.BudgetQuery(name="cc", group_by="cost_centre"), now=T)
    run_rate = (
        "sum by (cost_centre) (max by (namespace, pod, cost_centre) (costwarden_pod_hourly_cost))"
    )
    assert rendered.run_rate == run_rate
    # 60 h into March = 216000 s; one second short so exactly 3600 minute samples count.
    assert rendered.spent == f"sum_over_time(({run_rate})[215999s:60s]) * 60 / 3600"
    assert rendered.label == "cost_centre"


def test_a_namespace_budget_collapses_replicas_by_namespace_and_pod() -> None:
    rendered = queries.render(queries.BudgetQuery(name="ns", group_by="namespace"), now=T)
    assert rendered.run_rate == (
        "sum by (namespace) (max by (namespace, pod) (costwarden_pod_hourly_cost))"
    )


def test_nothing_is_queried_for_spend_in_the_first_step_of_a_period() -> None:
    just_started = datetime(2026, 3, 1, 0, 0, 59, tzinfo=UTC)
    budget = queries.BudgetQuery(name="cc", group_by="cost_centre")
    assert queries.render(budget, now=just_started).spent is None
    one_step = datetime(2026, 3, 1, 0, 1, tzinfo=UTC)
    assert queries.render(budget, now=one_step).spent is not None


def test_custom_queries_get_the_period_window_and_step_filled_in() -> None:
    budget = queries.BudgetQuery(
        name="cc",
        group_by="team",
        period="week",
        step_seconds=30,
        spent_promql="sum by (team) (sum_over_time(my_cost[{{range}}:{{step}}]))",
        run_rate_promql="sum by (team) (my_cost)",
    )
    rendered = queries.render(budget, now=T)  # Tuesday noon: 36 h into the week
    assert rendered.spent == "sum by (team) (sum_over_time(my_cost[129599s:30s]))"
    assert rendered.run_rate == "sum by (team) (my_cost)"


def test_opencost_joins_allocations_to_node_prices_and_namespaces_to_their_labels() -> None:
    budget = queries.BudgetQuery(name="oc", group_by="team", source="opencost")
    run_rate = queries.render(budget, now=T).run_rate
    for part in (
        "container_cpu_allocation",
        "node_cpu_hourly_cost",
        "container_memory_allocation_bytes",
        "node_ram_hourly_cost",
        "container_gpu_allocation",
        "node_gpu_hourly_cost",
        "group_left (label_team) max by (namespace, label_team) (kube_namespace_labels)",
    ):
        assert part in run_rate
    assert run_rate.startswith("sum by (team) (")


def test_the_pods_held_are_asked_for_by_name_with_dots_taken_literally() -> None:
    promql = queries.visible_pods(queries.POD_HOURLY_COST, ["train-0", "web.v2-0"])
    assert promql == [
        'count by (namespace, pod) (costwarden_pod_hourly_cost{pod=~"train-0|web\\\\.v2-0"})'
    ]


def test_the_pods_held_are_asked_for_a_batch_at_a_time_and_not_at_all_without_any() -> None:
    promql = queries.visible_pods("m", ["c", "a", "b"], per_query=2)
    assert promql == [
        'count by (namespace, pod) (m{pod=~"a|b"})',
        'count by (namespace, pod) (m{pod=~"c"})',
    ]
    assert queries.visible_pods("m", []) == []


def test_a_custom_run_rate_says_nothing_of_which_pods_it_counts() -> None:
    default = queries.BudgetQuery(name="cc", group_by="cost_centre", source="opencost")
    custom = queries.BudgetQuery(name="cc", group_by="cost_centre", run_rate_promql="x")
    assert queries.per_pod_metric(default) == "container_cpu_allocation"
    assert queries.per_pod_metric(custom) is None
