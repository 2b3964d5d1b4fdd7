"""`costwarden check`: manifests judged as admission would, the cost table, exit codes."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.cli import main

NOW = "2026-11-22T12:00:00Z"
POLICY_HEADER = "apiVersion: costwarden.io/v1alpha1\nkind: CostPolicy\nmetadata: {name: p}\n"
NAMESPACES = textwrap.dedent(
    """\
    ml-train: {cost-centre: Sales-5045, team: nlp, env: prod}
    ml-dev: {cost-centre: RnD-1001, team: vision, env: dev}
    """
)


@pytest.fixture(scope="module")
def manifests(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.rootpath / "tests" / "fixtures" / "manifests"


@pytest.fixture
def namespace_labels(tmp_path: Path) -> Path:
    path = tmp_path / "namespaces.yaml"
    path.write_text(NAMESPACES)
    return path


def test_allowed_manifests_exit_zero_with_a_cost_table(manifests, namespace_labels, capsys):
    status = main(
        [
            "check",
            "-f",
            str(manifests / "gpu-infer-deploy.yaml"),
            "--namespace-labels-file",
            str(namespace_labels),
            "--now",
            NOW,
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    header, row, total = out.splitlines()[:3]
    assert header.split() == [
        "OBJECT", "PODS", "GPUS", "GPU", "MODEL", "CAPACITY", "$/H", "$/MONTH", "VERDICT",
    ]  # fmt: skip
    assert row.startswith("Deployment ml-train/llm-server")
    assert row.split()[2:4] == ["2", "2"]
    assert row.endswith("allowed")
    assert total.startswith("TOTAL")


def test_a_denied_manifest_exits_one_and_says_why(manifests, namespace_labels, capsys):
    status = main(
        [
            "check",
            *("-f", str(manifests)),
            *("--namespace-labels-file", str(namespace_labels)),
            *("--now", NOW),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "Pod ml-dev/notebook-alice" in out
    assert "  DENY  [dev-on-spot] dev pod leaves capacity type open" in out


def test_json_output_carries_verdicts_and_estimates(manifests, namespace_labels, capsys):
    status = main(
        [
            "check",
            "-f",
            str(manifests / "dev-notebook-pod.yaml"),
            "--namespace-labels-file",
            str(namespace_labels),
            "--now",
            NOW,
            "-o",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["allowed"] is False
    (item,) = report["objects"]
    assert (item["identity"]["kind"], item["identity"]["name"]) == ("Pod", "notebook-alice")
    assert item["verdict"] == "denied"
    assert [v["rule"] for v in item["findings"] if v["action"] == "deny"] == ["dev-on-spot"]
    assert item["estimate"]["gpus"] == "1"


def test_stdin_and_namespace_objects_among_the_manifests(monkeypatch, capsys):
    import io

    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Namespace
        metadata: {name: team-a, labels: {cost-centre: Sales-5045, team: search}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: team-a}
        spec: {containers: [{name: c, image: x, resources: {requests: {cpu: "1", memory: 1Gi}}}]}
        """
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["check", "-f", "-", "--now", NOW]) == 0
    assert "Pod team-a/p" in capsys.readouterr().out


def test_custom_policies_replace_the_bundled_ones(manifests, tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        POLICY_HEADER + "spec: {rules: [{name: one-gpu, gpuLimits: {maxPerPod: 1}}]}\n"
    )
    status = main(
        [
            "check",
            "-f",
            str(manifests / "gpu-train-pod.yaml"),
            "--policies",
            str(policy),
            "--now",
            NOW,
        ]
    )
    assert status == 1
    assert "[one-gpu] pod requests 4 GPUs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [}\n",
            "not valid YAML",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: 3}\n",
            "document 0",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: 5\nspec: {containers: []}\n",
            "metadata: expected a mapping",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: 5}\nspec: {}\n",
            "metadata.namespace: expected a string",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: "
            "2147483647, template: {spec: {containers: [{name: c, resources: {requests: "
            "{cpu: '9223372036854775807'}}}]}}}\n",
            "spec.template.spec.containers[0].resources: requests priced at more than",
        ),
    ],
)
def test_unreadable_or_malformed_manifests_exit_two(tmp_path, capsys, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["check", "-f", str(path), "--now", NOW]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert expected in err


def test_an_invalid_policy_file_exits_two_naming_it(manifests, tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY_HEADER + "spec: {rules: [{name: a, spot: {}, colour: red}]}\n")
    assert main(["check", "-f", str(manifests), "--policies", str(policy)]) == 2
    assert f"{policy}:4: document 0: spec.rules[0].colour: unknown field" in capsys.readouterr().err


def test_a_missing_file_exits_two(capsys):
    assert main(["check", "-f", "/nonexistent/manifest.yaml"]) == 2
    assert "cannot read file" in capsys.readouterr().err


def test_a_user_catalog_overrides_bundled_prices(manifests, tmp_path, capsys):
    catalog = tmp_path / "prices.yaml"
    catalog.write_text(
        textwrap.dedent(
            """\
            apiVersion: costwarden.io/v1alpha1
            kind: PriceCatalog
            metadata: {name: negotiated, version: "2026-11"}
            spec:
              instanceTypes:
              - name: g5.2xlarge
                provider: aws
                region: us-east-1
                vcpu: 8
                memoryGiB: 32
                accelerators: {model: a10g, count: 1}
                onDemandHourly: 0.5
                source: negotiated rate card
                effectiveDate: 2026-11-01
            """
        )
    )
    args = ["check", "-f", str(manifests / "gpu-infer-deploy.yaml"), "--now", NOW, "-o", "json"]
    main(args)
    bundled = json.loads(capsys.readouterr().out)["objects"][0]["estimate"]["hourly"]["high"]
    main([*args, "--catalog", str(catalog)])
    negotiated = json.loads(capsys.readouterr().out)["objects"][0]["estimate"]["hourly"]["high"]
    # The pod's share of the node is priced: the share stays, the node's price drops.
    ratio = Decimal(negotiated) / Decimal(bundled)
    assert ratio.quantize(Decimal("0.001")) == (Decimal("0.5") / Decimal("1.212")).quantize(
        Decimal("0.001")
    )


def test_objects_inside_a_list_are_checked_like_any_other(manifests, namespace_labels, tmp_path):
    # `kubectl get pods -o yaml` prints a List: its items must not slip past the gate.
    notebook = (manifests / "dev-notebook-pod.yaml").read_text()
    listing = tmp_path / "list.yaml"
    listing.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        + textwrap.indent(notebook, "  ").replace("  apiVersion", "- apiVersion", 1)
    )
    status = main(
        [
            "check",
            *("-f", str(listing)),
            *("--namespace-labels-file", str(namespace_labels)),
            *("--now", NOW),
        ]
    )
    assert status == 1


def test_a_malformed_list_item_exits_two_naming_its_path(tmp_path, capsys):
    listing = tmp_path / "list.yaml"
    listing.write_text("apiVersion: v1\nkind: List\nitems:\n- {kind: Pod}\n")
    assert main(["check", "-f", str(listing), "--now", NOW]) == 2
    assert f"{listing}:4: document 0: items[0]: apiVersion missing" in capsys.readouterr().err


def test_an_exception_expiry_given_in_another_zone_is_printed_in_utc(manifests, tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        POLICY_HEADER
        + "spec: {rules: [{name: one-gpu, gpuLimits: {maxPerPod: 1}}]}\n"
        + "---\napiVersion: costwarden.io/v1alpha1\nkind: PolicyException\n"
        + "metadata: {name: big-run}\n"
        + "spec: {rules: [one-gpu], expires: '2026-12-31T18:00:00+02:00', reason: FIN-1}\n"
    )
    args = ["check", "-f", str(manifests / "gpu-train-pod.yaml"), "--policies", str(policy)]
    assert main([*args, "--now", NOW]) == 0
    assert "EXEMPT [one-gpu] PolicyException big-run until 2026-12-31 16:00 UTC: FIN-1" in (
        capsys.readouterr().out
    )


def test_json_output_gives_each_waiver_its_reason_and_expiry_in_utc(manifests, tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        POLICY_HEADER
        + "spec: {rules: [{name: one-gpu, gpuLimits: {maxPerPod: 1}}]}\n"
        + "---\napiVersion: costwarden.io/v1alpha1\nkind: PolicyException\n"
        + "metadata: {name: big-run}\n"
        + "spec: {rules: [one-gpu], expires: '2026-12-31T18:00:00+02:00', reason: FIN-1}\n"
    )
    args = ["check", "-f", str(manifests / "gpu-train-pod.yaml"), "--policies", str(policy)]
    assert main([*args, "--now", NOW, "-o", "json"]) == 0
    (exempted,) = json.loads(capsys.readouterr().out)["objects"][0]["exempted"]
    assert exempted == {
        "policy": "p",
        "rule": "one-gpu",
        "exception": "PolicyException big-run",
        "reason": "FIN-1",
        "expires": "2026-12-31T16:00:00+00:00",
    }


def test_an_empty_policy_directory_exits_two_never_checks_nothing(manifests, tmp_path, capsys):
    empty = tmp_path / "policies"
    empty.mkdir()
    (empty / "tests.yaml").write_text("# emptied by a careless copy\n")
    assert main(["check", "-f", str(manifests), "--policies", str(empty)]) == 2
    assert "no CostPolicy rules found" in capsys.readouterr().err
    assert main(["lint", "--policies", str(empty)]) == 2  # nothing to lint: an input error
    assert "no CostPolicy rules found" in capsys.readouterr().err
