"""PolicyExceptions in the chart (#20): the CRD in `crds/` (what `helm install` applies first,
read here with the real Helm engine and validated with kubernetes-validate's schemas), the
webhook that checks every PolicyException as an approval, and the RBAC on both sides — the
server reads them, the approvers named in values write them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
import yaml
from tests.chart.conftest import (
    APPROVALS,
    CI_VALUES,
    RELEASE,
    Objects,
    Render,
    load_values,
    named,
    of_kind,
    webhook,
)
from tests.chart.test_match_conditions import sent_to_costwarden
from tests.chart.test_rendering import claimed_versions, kubernetes_validate
from tests.conftest import ROOT, require

from costwarden.policies import approving, loading, models

APPROVER_ROLE = f"{RELEASE}-exception-approver"
APPROVERS = {"exceptions": {"approvers": {"users": ["dana@finance"], "groups": ["finops"]}}}


def jsonschema() -> ModuleType:
    try:
        import jsonschema
    except ImportError:
        require(
            False, what="jsonschema (with kubernetes-validate)", install="pip install -e .[dev]"
        )
        raise
    return jsonschema


@pytest.fixture(
    scope="module", params=[None, *CI_VALUES], ids=lambda p: p.name if p else "defaults"
)
def variant(request: pytest.FixtureRequest, render: Render) -> Objects:
    return render(load_values(request.param) if request.param else {})


@pytest.fixture(scope="module")
def crd(chart: Any) -> dict[str, Any]:
    (found,) = chart.crds
    assert found["name"] == "crds/policyexceptions.costwarden.io.yaml"
    loaded: dict[str, Any] = yaml.safe_load(found["data"])
    return loaded


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    (only_version,) = crd["spec"]["versions"]
    found: dict[str, Any] = only_version
    return found


def policy_exception(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": {
            "name": "fin-1234-train",
            "namespace": "ml-train",
            "annotations": {models.APPROVED_BY: "dana@finance"},
        },
        "spec": {
            "rules": ["max-gpus-per-pod"],
            "tickets": ["FIN-1234"],
            "expires": "2026-12-31",
            "reason": "FIN-1234: 8-GPU fine-tune for the Q4 fraud model",
            **spec,
        },
    }


def admits(version: dict[str, Any], obj: dict[str, Any]) -> bool:
    validator = jsonschema().Draft7Validator(version["schema"]["openAPIV3Schema"])
    return not list(validator.iter_errors(obj))


# --- the CRD ------------------------------------------------------------------------------


def test_the_crd_defines_a_namespaced_policy_exception_served_and_stored_as_v1alpha1(
    crd: dict[str, Any], version: dict[str, Any]
) -> None:
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "policyexceptions.costwarden.io"
    spec = crd["spec"]
    assert (spec["group"], spec["scope"]) == ("costwarden.io", "Namespaced")
    assert spec["names"] == {
        "kind": "PolicyException",
        "listKind": "PolicyExceptionList",
        "plural": "policyexceptions",
        "singular": "policyexception",
        "shortNames": ["pex"],
    }
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_the_crd_is_valid_for_every_claimed_kubernetes_version(crd: dict[str, Any]) -> None:
    validator = kubernetes_validate()
    for kubernetes in claimed_versions():
        validator.validate(crd, f"{kubernetes}.0", strict=True)


def test_kubernetes_validate_catches_a_misspelt_key_deep_in_the_crd_schema(
    crd: dict[str, Any],
) -> None:
    broken = json.loads(json.dumps(crd))
    rules = broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules["properties"]["rules"]["minItem"] = rules["properties"]["rules"].pop("minItems")
    with pytest.raises(kubernetes_validate().ValidationError):
        kubernetes_validate().validate(broken, f"{claimed_versions()[0]}.0", strict=True)


def test_the_crd_schema_requires_rules_expires_and_a_reason(version: dict[str, Any]) -> None:
    assert admits(version, policy_exception())
    assert not admits(version, policy_exception(rules=[]))
    assert not admits(version, policy_exception(reason=""))
    for required in ("rules", "expires", "reason"):
        obj = policy_exception()
        del obj["spec"][required]
        assert not admits(version, obj), required


def test_the_crd_keeps_unknown_spec_fields_so_the_webhook_refuses_them_by_name(
    version: dict[str, Any],
) -> None:
    """Pruned by the API server, a misspelt `tickts` would make an exception waive every
    object it matches instead of those labelled with its tickets; kept, the webhook's model
    (extra fields forbidden) refuses it naming the field."""
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["properties"]["match"]["x-kubernetes-preserve-unknown-fields"] is True


def test_the_crd_describes_every_field_of_the_policy_exception_model(
    version: dict[str, Any],
) -> None:
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fields = {
        field.alias or name for name, field in models.PolicyExceptionSpec.model_fields.items()
    }
    assert set(spec["properties"]) == fields
    assert set(spec["required"]) == {
        field.alias or name
        for name, field in models.PolicyExceptionSpec.model_fields.items()
        if field.is_required()
    }


def test_kubectl_get_pex_shows_rules_expiry_approver_and_age(version: dict[str, Any]) -> None:
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Rules": ".spec.rules",
        "Expires": ".spec.expires",
        "Approved-By": r".metadata.annotations.costwarden\.io/approved-by",
        "Age": ".metadata.creationTimestamp",
    }
    assert models.APPROVED_BY == "costwarden.io/approved-by"


def test_the_documented_policy_exception_fits_the_crd_and_is_an_approval_the_webhook_admits(
    version: dict[str, Any],
) -> None:
    text = (ROOT / "docs" / "policies.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    (documented,) = [yaml.safe_load(b) for b in blocks if "kind: PolicyException" in b]
    assert admits(version, documented)
    approver = documented["metadata"]["annotations"][models.APPROVED_BY]
    problems = approving.problems(
        documented,
        user=approver,
        policies=loading.bundled_policies(),
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert problems == []


# --- the webhook that checks approvals ------------------------------------------------------


def test_every_policy_exception_create_and_update_is_checked_in_every_namespace_failing_closed(
    variant: Objects,
) -> None:
    """Whatever the pods' failurePolicy and exemptions: an approval is never admitted
    unchecked, and one written unchecked in an exempt namespace would waive once the
    namespace is no longer exempt."""
    objects = variant
    hook = webhook(objects, APPROVALS)
    assert hook["rules"] == [
        {
            "apiGroups": ["costwarden.io"],
            "apiVersions": ["v1alpha1"],
            "resources": ["policyexceptions"],
            "operations": ["CREATE", "UPDATE"],
            "scope": "Namespaced",
        }
    ]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert "namespaceSelector" not in hook
    assert "objectSelector" not in hook
    assert hook["clientConfig"] == webhook(objects, "validate.costwarden.io")["clientConfig"]
    assert hook["clientConfig"]["service"]["path"] == "/validate"


def test_exemptions_and_opt_in_leave_the_check_of_approvals_alone(render: Render) -> None:
    objects = render(
        {
            "webhook": {
                "optInLabel": "costwarden.io/enabled",
                "exemptNamespaces": ["ml-train"],
                "failurePolicy": "Ignore",
            }
        }
    )
    hook = webhook(objects, APPROVALS)
    assert "namespaceSelector" not in hook
    assert hook["failurePolicy"] == "Fail"


def update(**changes: Any) -> dict[str, Any]:
    """A PolicyException UPDATE as the API server builds it for CEL: object and oldObject."""
    old = policy_exception()
    new = json.loads(json.dumps(old))
    new["metadata"].update(changes)
    return {"operation": "UPDATE", "object": new, "oldObject": old}


@pytest.mark.parametrize("skip_unchanged", [True, False])
def test_a_changed_approver_is_checked_and_only_a_terminating_object_is_skipped(
    render: Render, skip_unchanged: bool
) -> None:
    """The approver is an annotation: an update changing nothing else must still be sent.
    A terminating object is not, so the garbage collector can take its finalizers away;
    the server ignores PolicyExceptions being deleted."""
    objects = render({"webhook": {"skipUnchangedUpdates": skip_unchanged}})
    conditions = webhook(objects, APPROVALS)["matchConditions"]
    reapproved = update(annotations={models.APPROVED_BY: "mallory"})
    assert sent_to_costwarden(conditions, reapproved)
    assert sent_to_costwarden(conditions, update())
    terminating = update(deletionTimestamp="2026-11-22T11:00:00Z", finalizers=["x"])
    assert not sent_to_costwarden(conditions, terminating)


# --- RBAC ---------------------------------------------------------------------------------


def test_approvers_get_a_role_to_write_policy_exceptions_that_no_built_in_role_aggregates(
    defaults: Objects,
) -> None:
    role = named(defaults, "ClusterRole", APPROVER_ROLE)
    assert role["rules"] == [
        {
            "apiGroups": ["costwarden.io"],
            "resources": ["policyexceptions"],
            "verbs": ["create", "update", "patch", "delete", "get", "list", "watch"],
        }
    ]
    assert "aggregationRule" not in role
    labels = role["metadata"]["labels"]
    assert not [key for key in labels if key.startswith("rbac.authorization.k8s.io/aggregate")]


def test_nobody_is_bound_as_an_approver_by_default(defaults: Objects) -> None:
    bindings = of_kind(defaults, "ClusterRoleBinding") + of_kind(defaults, "RoleBinding")
    assert [b["roleRef"]["name"] for b in bindings] == [RELEASE]


def test_approvers_named_in_values_are_bound_in_every_namespace(render: Render) -> None:
    objects = render(APPROVERS)
    binding = named(objects, "ClusterRoleBinding", f"{RELEASE}-exception-approvers")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": APPROVER_ROLE,
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dana@finance"},
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "finops"},
    ]
    validator = kubernetes_validate()
    for obj in of_kind(objects, "ClusterRole") + of_kind(objects, "ClusterRoleBinding"):
        validator.validate(obj, f"{claimed_versions()[0]}.0", strict=True)


def test_the_server_only_reads_policy_exceptions(defaults: Objects) -> None:
    role = named(defaults, "ClusterRole", RELEASE)
    verbs = {
        verb
        for rule in role["rules"]
        if "policyexceptions" in rule["resources"]
        for verb in rule["verbs"]
    }
    assert verbs == {"list", "watch"}


def test_approvers_without_the_chart_rbac_fail_with_what_to_set(
    helm: ModuleType, render: Render
) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"set rbac\.create=true, or unset exceptions"):
        render({**APPROVERS, "rbac": {"create": False}})


def test_without_the_chart_rbac_no_approver_role_is_made(render: Render) -> None:
    objects = render({"rbac": {"create": False}})
    assert of_kind(objects, "ClusterRole") == []


def test_the_approvers_values_are_closed_and_need_names(helm: ModuleType, chart: Any) -> None:
    chart.validate_schema(APPROVERS)
    for bad in (
        {"exceptions": {"approver": {"users": ["dana"]}}},
        {"exceptions": {"approvers": {"user": ["dana"]}}},
        {"exceptions": {"approvers": {"users": [""]}}},
        {"exceptions": {"approvers": {"groups": ["finops", "finops"]}}},
        {"exceptions": {"approvers": {"users": "dana"}}},
    ):
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(bad)
