"""The chart's safety properties, asserted on rendered objects so a regression fails here:
exemptions, pod security, exact RBAC, disruption budget, webhook settings, uninstall."""

from __future__ import annotations

from typing import Any

import pytest
from tests.chart.conftest import (
    CHART,
    CI_VALUES,
    NAMESPACE,
    Objects,
    Render,
    load_values,
    named,
    of_kind,
    only,
    webhook,
    webhooks,
    workload_webhooks,
)

WORKLOADS = {"deployments", "statefulsets", "replicasets", "daemonsets", "jobs", "cronjobs"}
SCALE = {"deployments/scale", "statefulsets/scale", "replicasets/scale"}


def rule_resources(webhook: dict[str, Any]) -> set[str]:
    return {resource for rule in webhook["rules"] for resource in rule["resources"]}


def exempt_names(webhook: dict[str, Any]) -> set[str]:
    expressions = webhook["namespaceSelector"]["matchExpressions"]
    (by_name,) = [e for e in expressions if e["key"] == "kubernetes.io/metadata.name"]
    assert by_name["operator"] == "NotIn"
    return set(by_name["values"])


@pytest.fixture(
    scope="module", params=[None, *CI_VALUES], ids=lambda p: p.name if p else "defaults"
)
def variant(request: pytest.FixtureRequest, render: Render) -> tuple[dict[str, Any], Objects]:
    values = load_values(request.param) if request.param else {}
    return values, render(values)


# --- webhook configurations -------------------------------------------------------------


def test_kube_system_and_the_release_namespace_are_always_exempt(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    _, objects = variant
    hooks = list(workload_webhooks(objects))
    assert hooks
    for hook in hooks:
        assert {"kube-system", NAMESPACE} <= exempt_names(hook)


def test_a_custom_release_namespace_is_exempt_under_its_own_name(render: Render) -> None:
    for hook in workload_webhooks(render(namespace="finops")):
        assert {"kube-system", "finops"} <= exempt_names(hook)


def test_extra_exemptions_add_to_and_never_replace_the_mandatory_ones(render: Render) -> None:
    objects = render({"webhook": {"exemptNamespaces": ["monitoring", "kube-system"]}})
    for hook in workload_webhooks(objects):
        assert exempt_names(hook) == {"kube-system", NAMESPACE, "monitoring"}


def test_namespaces_carrying_the_opt_out_label_are_exempt(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    values, objects = variant
    label = values.get("webhook", {}).get("optOutLabel", "costwarden.io/ignore")
    for hook in workload_webhooks(objects):
        expressions = hook["namespaceSelector"]["matchExpressions"]
        assert {"key": label, "operator": "NotIn", "values": ["true"]} in expressions


def test_an_opt_in_label_narrows_the_webhooks_but_keeps_every_exemption(render: Render) -> None:
    objects = render({"webhook": {"optInLabel": "costwarden.io/enabled"}})
    for hook in workload_webhooks(objects):
        expressions = hook["namespaceSelector"]["matchExpressions"]
        wanted = {"key": "costwarden.io/enabled", "operator": "In", "values": ["true"]}
        assert wanted in expressions
        assert {"kube-system", NAMESPACE} <= exempt_names(hook)
    for hook in workload_webhooks(render()):
        assert all(e["operator"] == "NotIn" for e in hook["namespaceSelector"]["matchExpressions"])


def test_validating_webhook_covers_pods_every_workload_kind_and_scale_subresources(
    defaults: Objects,
) -> None:
    hook = webhook(defaults, "validate.costwarden.io")
    assert rule_resources(hook) == {"pods", "pods/resize"} | WORKLOADS | SCALE
    scale_rules = [r for r in hook["rules"] if set(r["resources"]) & SCALE]
    assert all(r["apiGroups"] == ["apps"] and "UPDATE" in r["operations"] for r in scale_rules)
    workload_rules = [r for r in hook["rules"] if set(r["resources"]) & WORKLOADS]
    assert all({"CREATE", "UPDATE"} <= set(r["operations"]) for r in workload_rules)


def test_in_place_pod_resizes_are_validated_and_never_patched(defaults: Objects) -> None:
    """`pods/resize` (Kubernetes 1.33+) grows a running pod's CPU and memory: without it, a
    pod admitted small could grow past its envelope and its budget unchecked."""
    hook = webhook(defaults, "validate.costwarden.io")
    (rule,) = (r for r in hook["rules"] if "pods/resize" in r["resources"])
    assert (rule["apiGroups"], rule["apiVersions"]) == ([""], ["v1"])
    assert "UPDATE" in rule["operations"]
    (mutating,) = only(defaults, "MutatingWebhookConfiguration")["webhooks"]
    assert "pods/resize" not in rule_resources(mutating)


def test_mutating_webhook_covers_pods_and_every_workload_kind(defaults: Objects) -> None:
    (hook,) = only(defaults, "MutatingWebhookConfiguration")["webhooks"]
    assert rule_resources(hook) == {"pods"} | WORKLOADS


def test_webhooks_speak_v1_and_declare_their_side_effects(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    """/validate reserves budget, except on dry runs; /mutate and the check of approvals
    never write anything."""
    _, objects = variant
    for hook in webhooks(objects):
        assert hook["admissionReviewVersions"] == ["v1"]
        expected = "NoneOnDryRun" if hook["name"].startswith("validate.") else "None"
        assert hook["sideEffects"] == expected, hook["name"]


def test_failure_policy_and_timeouts_come_from_values(render: Render) -> None:
    objects = render(
        {
            "replicaCount": 3,
            "webhook": {
                "failurePolicy": "Fail",
                "timeoutSeconds": 7,
                "mutating": {"failurePolicy": "Fail", "timeoutSeconds": 4},
            },
        }
    )
    validating = webhook(objects, "validate.costwarden.io")
    mutating = webhook(objects, "mutate.costwarden.io")
    assert (validating["failurePolicy"], validating["timeoutSeconds"]) == ("Fail", 7)
    assert (mutating["failurePolicy"], mutating["timeoutSeconds"]) == ("Fail", 4)


def test_defaults_fail_open_with_short_timeouts_as_values_yaml_explains(defaults: Objects) -> None:
    validating = webhook(defaults, "validate.costwarden.io")
    mutating = webhook(defaults, "mutate.costwarden.io")
    assert validating["failurePolicy"] == mutating["failurePolicy"] == "Ignore"
    assert validating["timeoutSeconds"] <= 5
    assert mutating["timeoutSeconds"] <= validating["timeoutSeconds"]
    documented = (CHART / "values.yaml").read_text()
    assert "Gatekeeper" in documented
    assert "Kyverno" in documented


def test_webhooks_call_the_release_service_on_the_server_paths(defaults: Objects) -> None:
    service = only(defaults, "Service")
    paths = set()
    for hook in webhooks(defaults):
        target = hook["clientConfig"]["service"]
        assert target["name"] == service["metadata"]["name"]
        assert target["namespace"] == NAMESPACE
        assert target["port"] in {p["port"] for p in service["spec"]["ports"]}
        paths.add(target["path"])
    assert paths == {"/validate", "/mutate"}


def test_match_conditions_skip_deleting_objects_and_unchanged_updates(defaults: Objects) -> None:
    for hook in workload_webhooks(defaults):
        conditions = {c["name"]: c["expression"] for c in hook["matchConditions"]}
        assert "deletionTimestamp" in conditions["not-being-deleted"]
        assert "request.operation != 'UPDATE'" in conditions["spec-or-labels-changed"]


def test_match_conditions_can_be_switched_off(render: Render) -> None:
    objects = render({"webhook": {"skipUnchangedUpdates": False}})
    assert all("matchConditions" not in hook for hook in workload_webhooks(objects))


def test_mutating_webhook_can_be_switched_off(render: Render) -> None:
    objects = render({"webhook": {"mutating": {"enabled": False}}})
    assert of_kind(objects, "MutatingWebhookConfiguration") == []
    assert len(of_kind(objects, "ValidatingWebhookConfiguration")) == 1


# --- uninstall ----------------------------------------------------------------------------


def test_nothing_is_a_hook_or_kept_after_uninstall(variant: tuple[dict[str, Any], Objects]) -> None:
    """A leftover fail-closed webhook blocks the cluster: every object, webhook
    configurations first, must be an ordinary release object that uninstall deletes."""
    _, objects = variant
    for obj in objects:
        annotations = obj["metadata"].get("annotations") or {}
        assert "helm.sh/resource-policy" not in annotations, obj["metadata"]["name"]
        assert "helm.sh/hook" not in annotations, obj["metadata"]["name"]
    for template in (CHART / "templates").iterdir():
        text = template.read_text()
        assert "resource-policy" not in text.replace("no helm.sh/resource-policy", "")
        assert "helm.sh/hook" not in text


# --- pod security, resources, probes ------------------------------------------------------


def test_pods_run_under_the_restricted_pod_security_standard(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    _, objects = variant
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context.get("privileged", False) is False
    for volume in pod["volumes"]:
        assert "hostPath" not in volume


def test_containers_have_resource_requests_and_limits(defaults: Objects) -> None:
    (container,) = only(defaults, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_probes_hit_healthz_and_readyz_on_the_metrics_port(defaults: Objects) -> None:
    (container,) = only(defaults, "Deployment")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert ports["metrics"] == 8080


# --- availability ---------------------------------------------------------------------------


def test_defaults_run_two_replicas_spread_over_nodes_and_zones_with_a_pdb(
    defaults: Objects,
) -> None:
    deployment = only(defaults, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    pdb = only(defaults, "PodDisruptionBudget")
    assert 1 <= pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_every_variant_with_a_pdb_still_lets_a_node_drain(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    _, objects = variant
    replicas = only(objects, "Deployment")["spec"]["replicas"]
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        assert pdb["spec"]["minAvailable"] < replicas


def test_the_service_selects_the_server_pods(defaults: Objects) -> None:
    pod_labels = only(defaults, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = only(defaults, "Service")["spec"]["selector"]
    assert selector.items() <= pod_labels.items()


# --- RBAC ---------------------------------------------------------------------------------


def test_rbac_is_read_only_and_exactly_what_the_server_uses(defaults: Objects) -> None:
    role = named(defaults, "ClusterRole", "costwarden")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    expected = {("", "namespaces", verb) for verb in ("list", "watch")}
    expected |= {("", "nodes", verb) for verb in ("list", "watch")}  # running pods' prices
    expected |= {("", "pods", verb) for verb in ("list", "watch")}
    expected |= {("costwarden.io", "policyexceptions", verb) for verb in ("list", "watch")}
    expected |= {("apps", r, "get") for r in ("deployments", "statefulsets", "replicasets")}
    dra = ("deviceclasses", "resourceclaimtemplates", "resourceclaims")  # priced claims
    expected |= {("resource.k8s.io", r, verb) for r in dra for verb in ("list", "watch")}
    assert granted == expected
    assert of_kind(defaults, "Role") == []


def test_the_cluster_role_is_bound_to_the_servers_service_account(defaults: Objects) -> None:
    binding = only(defaults, "ClusterRoleBinding")
    account = only(defaults, "ServiceAccount")
    pod = only(defaults, "Deployment")["spec"]["template"]["spec"]
    assert (
        binding["roleRef"]["name"]
        == named(defaults, "ClusterRole", "costwarden")["metadata"]["name"]
    )
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": NAMESPACE,
        }
    ]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_service_probe_and_flag_ports_line_up(
    variant: tuple[dict[str, Any], Objects],
) -> None:
    _, objects = variant
    (server,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in server["ports"]}
    args = server["args"]
    assert named["webhook"] == int(args[args.index("--webhook-port") + 1])
    assert named["metrics"] == int(args[args.index("--metrics-port") + 1])
    service_ports = {p["port"]: p["targetPort"] for p in only(objects, "Service")["spec"]["ports"]}
    for hook in webhooks(objects):
        assert service_ports[hook["clientConfig"]["service"]["port"]] == "webhook"
    assert server["readinessProbe"]["httpGet"]["port"] in named
    assert server["livenessProbe"]["httpGet"]["port"] in named


def test_a_stopping_replica_keeps_answering_until_endpoints_have_moved(defaults: Objects) -> None:
    pod = only(defaults, "Deployment")["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    command = server["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert 0 < int(command[1]) < pod["terminationGracePeriodSeconds"]
