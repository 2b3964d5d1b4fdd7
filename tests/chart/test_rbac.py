"""The server's ClusterRole grants exactly what the kube/ adapter calls: every Kubernetes
client call in `src/costwarden/kube/` maps to one (group, resource, verb), and the role must
hold those and nothing more. A new call without its rule fails here (instead of a 403 in a
cluster); a rule no code needs fails here too. A custom-objects call (`*_custom_object`) is
for the resource its module names in `GROUP` and `PLURAL`."""

from __future__ import annotations

import re

from tests.chart.conftest import RELEASE, Objects, named
from tests.conftest import ROOT

KUBE = ROOT / "src" / "costwarden" / "kube"
CALL = re.compile(r"\b(list|read|create|patch|replace|delete)_([a-z_]+)\b")
VERBS = {"list": "list", "read": "get", "create": "create", "patch": "patch"}
VERBS |= {"replace": "update", "delete": "delete"}
# Kubernetes client method stem (snake_case kind) -> (API group, resource).
KINDS = {
    "namespace": ("", "namespaces"),
    "node": ("", "nodes"),
    "pod": ("", "pods"),
    "deployment": ("apps", "deployments"),
    "stateful_set": ("apps", "statefulsets"),
    "replica_set": ("apps", "replicasets"),
    "daemon_set": ("apps", "daemonsets"),
    "job": ("batch", "jobs"),
    "cron_job": ("batch", "cronjobs"),
    "device_class": ("resource.k8s.io", "deviceclasses"),
    "resource_claim_template": ("resource.k8s.io", "resourceclaimtemplates"),
    "resource_claim": ("resource.k8s.io", "resourceclaims"),
}
CUSTOM_OBJECT = re.compile(r"^(cluster_)?custom_object$")


def constant(text: str, name: str) -> str:
    match = re.search(rf'^{name} = "([^"]+)"$', text, re.MULTILINE)
    assert match, f"a custom-objects call needs its module's {name} constant"
    return match.group(1)


def permissions_the_code_uses() -> set[tuple[str, str, str]]:
    used: set[tuple[str, str, str]] = set()
    for source in sorted(KUBE.glob("*.py")):
        text = source.read_text()
        # A list method handed to the reflector (kube.watching) is watched as well.
        watches = ".stream(" in text or "watching.start(" in text
        for verb, rest in CALL.findall(text):
            stem = rest.removeprefix("namespaced_").removesuffix("_for_all_namespaces")
            if stem.endswith("_with_http_info"):
                stem = stem.removesuffix("_with_http_info")
            if CUSTOM_OBJECT.match(stem):
                group, resource = constant(text, "GROUP"), constant(text, "PLURAL")
            elif stem in KINDS:
                group, resource = KINDS[stem]
            else:
                continue  # not a client call (e.g. a local helper named list_something)
            used.add((group, resource, VERBS[verb]))
            if verb == "list" and watches:
                used.add((group, resource, "watch"))
    return used


def granted(objects: Objects) -> set[tuple[str, str, str]]:
    role = named(objects, "ClusterRole", RELEASE)
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_cluster_role_grants_exactly_the_calls_of_the_kube_adapter(defaults: Objects) -> None:
    used = permissions_the_code_uses()
    assert used, "no Kubernetes client calls found in src/costwarden/kube/"
    assert granted(defaults) == used


def test_the_code_only_reads() -> None:
    verbs = {verb for _, _, verb in permissions_the_code_uses()}
    assert verbs <= {"get", "list", "watch"}
