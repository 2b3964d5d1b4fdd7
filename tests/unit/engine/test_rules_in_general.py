"""What every rule shares: match/exclude, actions, exceptions (label and object) with
expiry, and the one message format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costwarden.policies.loading import bundled_policies

GPUS = {"name": "max-gpus", "gpuLimits": {"maxPerPod": 1}}
LABEL_EXCEPTION = {
    "label": {"key": "cost-exception", "valuePattern": "^FIN-[0-9]+$", "maxDuration": "90d"}
}
MESSAGE = re.compile(r"^\[[a-z0-9.-]+\] [^—]+ — .+$")
BUNDLED = bundled_policies()


def with_(rule: dict, **fields: object) -> dict:
    return {**rule, **fields}


@pytest.mark.parametrize(
    ("match", "namespace", "applies"),
    [
        ({"namespaces": ["ml-*"]}, "ml-train", True),
        ({"namespaces": ["ml-*"]}, "bare", False),
        ({"namespaces": ["*-dev", "bare"]}, "bare", True),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "ml-train", True),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "ml-dev", False),
        (
            {
                "namespaceSelector": {
                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]
                }
            },
            "bare",
            True,
        ),
        ({"selector": {"matchLabels": {"tier": "gold"}}}, "ml-train", True),
        (
            {"selector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}},
            "ml-train",
            False,
        ),
        ({"kinds": ["Pod"]}, "ml-train", True),
        ({"kinds": ["Deployment"]}, "ml-train", False),
        ({"operations": ["UPDATE"]}, "ml-train", False),
    ],
)
def test_match_selects_requests_by_namespace_labels_kind_and_operation(
    pod, policies, judge, match, namespace, applies
):
    obj = pod(gpus=2, namespace=namespace, labels={"tier": "gold"})
    verdict = judge(obj, policies(with_(GPUS, match=match)))
    assert verdict.allowed is not applies


def test_kinds_pod_includes_the_workloads_that_make_pods(pod, workload, policies, judge):
    rule = with_(GPUS, match={"kinds": ["Pod"]})
    assert not judge(workload("StatefulSet", pod(gpus=2)), policies(rule)).allowed


def test_exclude_removes_matching_requests(pod, policies, judge):
    rule = with_(GPUS, exclude={"namespaces": ["ml-train"]})
    assert judge(pod(gpus=2, namespace="ml-train"), policies(rule)).allowed
    assert not judge(pod(gpus=2, namespace="ml-infer"), policies(rule)).allowed


def test_deny_action_rejects(pod, policies, judge):
    verdict = judge(pod(gpus=2), policies(GPUS))
    assert not verdict.allowed
    assert [v.action for v in verdict.violations] == ["deny"]


def test_warn_action_admits_with_a_warning(pod, policies, judge):
    verdict = judge(pod(gpus=2), policies(with_(GPUS, action="warn")))
    assert verdict.allowed
    assert [v.rule for v in verdict.warnings] == ["max-gpus"]


def test_dryrun_action_records_without_denying_or_warning(pod, policies, judge):
    verdict = judge(pod(gpus=2), policies(with_(GPUS, action="dryrun")))
    assert verdict.allowed
    assert verdict.denials == ()
    assert verdict.warnings == ()
    assert [(v.rule, v.action) for v in verdict.violations] == [("max-gpus", "dryrun")]


def test_dryrun_action_does_not_mutate(pod, policies, judge):
    rule = {"name": "spot", "action": "dryrun", "spot": {"mode": "mutate"}}
    verdict = judge(pod(), policies(rule))
    assert verdict.patches == ()


def excepted_pod(
    pod,
    *,
    ticket: str = "FIN-1234",
    expires: str | None = "2026-12-01",
    reason: str | None = "approved by finance",
):
    annotations = {}
    if expires is not None:
        annotations["costwarden.io/exception-expires"] = expires
    if reason is not None:
        annotations["costwarden.io/exception-reason"] = reason
    return pod(gpus=2, labels={"cost-exception": ticket}, annotations=annotations)


def test_label_exception_waives_the_rule_and_echoes_its_reason(pod, policies, judge):
    verdict = judge(excepted_pod(pod), policies(with_(GPUS, exceptions=LABEL_EXCEPTION)))
    assert verdict.allowed
    (exempted,) = verdict.exempted
    assert (exempted.rule, exempted.exception) == ("max-gpus", "label cost-exception=FIN-1234")
    assert exempted.reason == "approved by finance"


def test_a_label_exception_dated_by_day_waives_until_the_end_of_that_day_utc(pod, policies, judge):
    verdict = judge(excepted_pod(pod), policies(with_(GPUS, exceptions=LABEL_EXCEPTION)))
    (exempted,) = verdict.exempted
    assert exempted.expires == datetime(2026, 12, 2, tzinfo=UTC)


def test_a_label_exception_timed_in_another_zone_waives_until_that_instant(pod, policies, judge):
    verdict = judge(
        excepted_pod(pod, expires="2026-11-30T18:00:00+02:00"),
        policies(with_(GPUS, exceptions=LABEL_EXCEPTION)),
    )
    (exempted,) = verdict.exempted
    assert exempted.expires == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert exempted.expires.utcoffset() is not None


def test_a_label_exception_without_a_reason_gives_its_ticket_as_the_reason(pod, policies, judge):
    verdict = judge(
        excepted_pod(pod, reason=None), policies(with_(GPUS, exceptions=LABEL_EXCEPTION))
    )
    (exempted,) = verdict.exempted
    assert exempted.reason == "ticket FIN-1234"


def test_label_exception_no_longer_applies_after_its_expiry(pod, policies, judge):
    verdict = judge(
        excepted_pod(pod, expires="2026-11-21"), policies(with_(GPUS, exceptions=LABEL_EXCEPTION))
    )
    (violation,) = verdict.denials
    assert (
        "exception label cost-exception=FIN-1234 ignored: expired 2026-11-22 00:00 UTC"
        in violation.message
    )
    assert verdict.exempted == ()


def test_label_exception_expiring_later_today_still_applies(pod, policies, judge):
    verdict = judge(
        excepted_pod(pod, expires="2026-11-22T18:00:00Z"),
        policies(with_(GPUS, exceptions=LABEL_EXCEPTION)),
    )
    assert verdict.allowed


@pytest.mark.parametrize(
    ("ticket", "expires", "why"),
    [
        ("FIN-1234", None, "needs annotation costwarden.io/exception-expires=<YYYY-MM-DD>"),
        ("FIN-1234", "soon", "annotation costwarden.io/exception-expires=soon is not a date"),
        (
            "FIN-1234",
            "9999-12-31",  # valid through that day: the day after is past datetime's range
            "annotation costwarden.io/exception-expires=9999-12-31 is not a date",
        ),
        ("FIN-1234", "2027-06-01", "is more than 90 days ahead"),
        ("please", "2026-12-01", "not a ticket (^FIN-[0-9]+$)"),
    ],
)
def test_label_exception_that_does_not_count_says_why(pod, policies, judge, ticket, expires, why):
    verdict = judge(
        excepted_pod(pod, ticket=ticket, expires=expires),
        policies(with_(GPUS, exceptions=LABEL_EXCEPTION)),
    )
    (violation,) = verdict.denials
    assert why in violation.message


def policy_exception(**spec: object) -> dict:
    return {"rules": ["max-gpus"], "expires": "2026-12-31", "reason": "FIN-77 approved", **spec}


def test_policy_exception_object_waives_the_rule_it_names(pod, policies, judge):
    rules = policies(GPUS, exceptions=(policy_exception(match={"namespaces": ["ml-train"]}),))
    verdict = judge(pod(gpus=2), rules)
    assert verdict.allowed
    (exempted,) = verdict.exempted
    assert exempted.exception == "PolicyException exception-1"
    assert exempted.reason == "FIN-77 approved"
    assert exempted.expires == datetime(2027, 1, 1, tzinfo=UTC)


def test_policy_exception_expires(pod, policies, judge):
    rules = policies(GPUS, exceptions=(policy_exception(expires="2026-11-22T11:59:59Z"),))
    assert not judge(pod(gpus=2), rules).allowed


def test_policy_exception_matches_object_names_and_namespaces(pod, policies, judge):
    rules = policies(
        GPUS, exceptions=(policy_exception(names=["train-*"], match={"namespaces": ["ml-train"]}),)
    )
    assert judge(pod(gpus=2, name="train-1"), rules).allowed
    assert not judge(pod(gpus=2, name="serve-1"), rules).allowed
    assert not judge(pod(gpus=2, name="train-1", namespace="ml-infer"), rules).allowed


def test_rule_can_refuse_exception_objects(pod, policies, judge):
    rule = with_(GPUS, exceptions={"objects": False})
    assert not judge(pod(gpus=2), policies(rule, exceptions=(policy_exception(),))).allowed


def test_every_rule_kind_writes_the_one_message_format(pod, workload, policies, judge, context):
    from costwarden.engine.ports import SpendSnapshot

    rules = policies(
        {"name": "labels", "requiredLabels": {"labels": [{"key": "owner"}]}},
        {
            "name": "labels-value",
            "requiredLabels": {"labels": [{"key": "team", "values": ["a"]}], "piiGuard": True},
        },
        {"name": "gpus", "gpuLimits": {"maxPerPod": 1, "maxPerWorkload": 1}},
        {"name": "spot", "spot": {}},
        {
            "name": "size",
            "sizeEnvelope": {
                "maxPodVcpu": 1,
                "maxPodMemoryGib": 1,
                "maxHourly": "0.01",
                "maxInstanceVcpu": 1,
                "maxInstanceMemoryGib": 1,
                "allowedInstanceTypes": ["x*"],
            },
        },
        {"name": "taint", "gpuTaint": {}},
        {"name": "budget", "budget": {"defaultCap": "1"}},
        {"name": "budget-stale", "budget": {"defaultCap": "1", "onStaleData": "warn"}},
    )
    obj = workload(
        "Deployment",
        pod(
            gpus=2,
            cpu="8",
            memory="16Gi",
            labels={"team": "b", "owner2": "a_at_b.com"},
            node_selector={"node.kubernetes.io/instance-type": "p4d.24xlarge"},
        ),
        replicas=2,
    )
    fresh = context(spend=SpendSnapshot(fetched_at=context().now))
    messages = [v.message for v in judge(obj, rules, context=fresh).violations]
    messages += [v.message for v in judge(obj, rules).violations]
    fired = {m.split("]")[0][1:] for m in messages}
    assert fired == {
        "labels",
        "labels-value",
        "gpus",
        "spot",
        "size",
        "taint",
        "budget",
        "budget-stale",
    }
    assert len(messages) >= 14
    for message in messages:
        assert MESSAGE.match(message), message


def test_estimate_line_stays_within_120_characters_for_long_names(pod, policies, judge):
    verdict = judge(pod(name="n" * 200, gpus=1), policies(GPUS))
    assert len(verdict.notices[0]) == 120
    assert verdict.notices[0].endswith("…")


LABEL_KEYS = st.sampled_from(
    ["cost-centre", "Cost-Centre", "costcentre", "team", "Team", "env", "owner", "project"]
)
LABEL_VALUES = st.sampled_from(
    ["Sales-5045", "sales-5045", "nlp", "prod", "Prod", "alice_at_example.com", "x", ""]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    labels=st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=5),
    gpus=st.integers(min_value=0, max_value=9),
    namespace=st.sampled_from(["ml-train", "ml-dev", "bare"]),
    on_spot=st.booleans(),
)
def test_any_pod_gets_a_consistent_verdict_in_the_one_message_format(
    pod, judge, labels, gpus, namespace, on_spot
):
    selector = {"karpenter.sh/capacity-type": "spot"} if on_spot else None
    obj = pod(namespace=namespace, labels=labels, gpus=gpus, node_selector=selector)
    verdict = judge(obj, BUNDLED)
    assert verdict.allowed is (not verdict.denials)
    for violation in verdict.violations:
        assert MESSAGE.match(violation.message), violation.message
        assert violation.message.startswith(f"[{violation.rule}] ")
