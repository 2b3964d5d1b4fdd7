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


APPROVER = "fiona@finance.example"


def approved(
    *, tickets: tuple[str, ...] = ("FIN-1234",), expires: str = "2026-12-01", **extra: object
) -> dict:
    """A PolicyException approved in ml-train for rule max-gpus, asked for by ticket."""
    return {
        "metadata": {
            "namespace": "ml-train",
            "annotations": {"costwarden.io/approved-by": APPROVER},
        },
        "rules": ["max-gpus"],
        "tickets": list(tickets),
        "expires": expires,
        "reason": "approved by finance",
        **extra,
    }


def labelled_pod(pod, *, ticket: str = "FIN-1234"):
    return pod(gpus=2, labels={"cost-exception": ticket})


def test_a_label_naming_an_approved_exceptions_ticket_waives_the_rule(pod, policies, judge):
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(),))
    verdict = judge(labelled_pod(pod), rules)
    assert verdict.allowed
    (exempted,) = verdict.exempted
    assert exempted.rule == "max-gpus"
    assert exempted.exception == (
        "label cost-exception=FIN-1234, PolicyException ml-train/exception-1 "
        f"approved by {APPROVER}"
    )
    assert exempted.reason == "approved by finance"


def test_a_label_alone_waives_nothing(pod, policies, judge):
    # Whoever writes a pod writes its labels: without an approved exception behind it, the
    # label is a request, not a waiver.
    verdict = judge(labelled_pod(pod), policies(with_(GPUS, exceptions=LABEL_EXCEPTION)))
    assert not verdict.allowed
    assert (
        "exception label cost-exception=FIN-1234 ignored: no approved PolicyException names "
        "ticket FIN-1234 for rule max-gpus in namespace ml-train; ask an approver for one"
    ) in verdict.denials[0].message


def test_an_exception_is_never_used_by_its_own_approver(pod, policies, judge):
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(),))
    verdict = judge(labelled_pod(pod), rules, user=APPROVER)
    assert not verdict.allowed
    assert f"was approved by {APPROVER}, who sent this request" in verdict.denials[0].message


def test_an_exception_in_another_namespace_waives_nothing_here(pod, policies, judge):
    elsewhere = approved()
    elsewhere["metadata"] = {**elsewhere["metadata"], "namespace": "ml-dev"}
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(elsewhere,))
    assert not judge(labelled_pod(pod), rules).allowed


def test_a_label_may_name_the_exception_itself(pod, policies, judge):
    rule = with_(GPUS, exceptions={"label": {"key": "cost-exception"}})
    rules = policies(rule, exceptions=(approved(tickets=()),))
    assert judge(labelled_pod(pod, ticket="exception-1"), rules).allowed


def test_an_exception_dated_by_day_waives_until_the_end_of_that_day_utc(pod, policies, judge):
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(),))
    (exempted,) = judge(labelled_pod(pod), rules).exempted
    assert exempted.expires == datetime(2026, 12, 2, tzinfo=UTC)


def test_an_exception_timed_in_another_zone_waives_until_that_instant(pod, policies, judge):
    later = approved(expires="2026-11-30T18:00:00+02:00")
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(later,))
    (exempted,) = judge(labelled_pod(pod), rules).exempted
    assert exempted.expires == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert exempted.expires.utcoffset() is not None


def test_an_expired_exception_waives_nothing_and_says_so(pod, policies, judge):
    rules = policies(
        with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(expires="2026-11-21"),)
    )
    verdict = judge(labelled_pod(pod), rules)
    assert verdict.exempted == ()
    assert (
        "exception label cost-exception=FIN-1234 ignored: PolicyException ml-train/exception-1 "
        "expired 2026-11-22 00:00 UTC"
    ) in verdict.denials[0].message


def test_an_exception_expiring_later_today_still_applies(pod, policies, judge):
    rules = policies(
        with_(GPUS, exceptions=LABEL_EXCEPTION),
        exceptions=(approved(expires="2026-11-22T18:00:00Z"),),
    )
    assert judge(labelled_pod(pod), rules).allowed


def test_a_label_that_is_not_a_ticket_says_so(pod, policies, judge):
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(),))
    verdict = judge(labelled_pod(pod, ticket="please"), rules)
    assert "exception label cost-exception=please ignored: not a ticket (^FIN-[0-9]+$)" in (
        verdict.denials[0].message
    )


def test_an_exception_listing_tickets_waives_only_objects_that_ask_for_it(pod, policies, judge):
    rules = policies(with_(GPUS, exceptions=LABEL_EXCEPTION), exceptions=(approved(),))
    assert not judge(pod(gpus=2), rules).allowed


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


def test_estimate_lines_are_never_cut_for_long_names(pod, policies, judge):
    name = "n" * 200
    verdict = judge(pod(name=name, gpus=1), policies(GPUS))
    said = [n for n in verdict.notices if n.startswith("costwarden: ")]
    assert len(said) == 2  # the figures, then where the pod runs: each whole
    assert all(f"ml-train/{name} " in line for line in said)
    assert not any(line.endswith("…") for line in said)
    assert "1× GPU (" in said[1]


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
