"""`costwarden diff`: cost and verdict changes between two git refs or two sets of files."""

from __future__ import annotations

import io
import json
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costwarden.cli import main

NAMESPACES = "ml-serve: {cost-centre: Retail-2045, team: search}\n"
DEPLOYMENT = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: infer, namespace: ml-serve, labels: {cost-centre: Retail-2045, team: search}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: infer}}
      template:
        metadata: {labels: {app: infer, cost-centre: Retail-2045, team: search}}
        spec:
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
          containers:
          - name: model
            image: registry.example/infer:1
            resources:
              requests: {cpu: "4", memory: 16Gi, nvidia.com/gpu: "1"}
              limits: {nvidia.com/gpu: "1"}
    """
)
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: infer, namespace: ml-serve}\n"
JOB = textwrap.dedent(
    """\
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: big-train
      namespace: ml-serve
      labels: {cost-centre: Retail-2045, team: search}
    spec:
      template:
        metadata: {labels: {cost-centre: Retail-2045, team: search}}
        spec:
          restartPolicy: Never
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
          containers:
          - name: train
            image: registry.example/train:1
            resources:
              requests: {cpu: "32", memory: 256Gi, nvidia.com/gpu: "8"}
              limits: {nvidia.com/gpu: "8"}
    """
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose second commit scales the Deployment 2 → 4 and adds an 8-GPU Job;
    the working directory is inside it, as in CI."""
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    (root / "namespaces.yaml").write_text(NAMESPACES)
    (root / "k8s" / "deploy.yaml").write_text(DEPLOYMENT)
    (root / "k8s" / "service.yaml").write_text(SERVICE)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    (root / "k8s" / "deploy.yaml").write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 4"))
    (root / "k8s" / "job.yaml").write_text(JOB)
    git(root, "add", ".")
    git(root, "commit", "-qm", "scale and train")
    monkeypatch.chdir(root)
    return root


def diff_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = main(["diff", *args, "--namespace-labels-file", "namespaces.yaml", "-o", "json"])
    return status, json.loads(capsys.readouterr().out)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["identity"]["name"]: item for item in report["objects"]}


def test_two_git_refs_give_each_objects_change_and_totals_that_add_up(repo, capsys):
    status, report = diff_json(capsys, "--base", "HEAD~1", "--head", "HEAD", "-f", "k8s")
    assert status == 0  # informs unless a --fail-on condition is given
    objects = by_name(report)
    assert set(objects) == {"infer", "big-train"}  # the Service runs no pods
    infer, train = objects["infer"], objects["big-train"]
    assert infer["change"] == "changed"
    before, after = infer["before"]["estimate"], infer["after"]["estimate"]
    assert (before["pods"], after["pods"]) == ("2", "4")
    assert (before["gpus"], after["gpus"]) == ("2", "4")
    assert Decimal(after["hourly"]["high"]) == 2 * Decimal(before["hourly"]["high"])
    assert train["change"] == "added"
    assert train["before"] is None
    assert train["after"]["estimate"]["gpus"] == "8"
    total = report["total"]
    for end in ("low", "high"):
        assert Decimal(total["delta"]["hourly"][end]) == sum(
            Decimal(item["delta"]["hourly"][end]) for item in report["objects"]
        )
        assert Decimal(total["after"]["hourly"][end]) == sum(
            Decimal(item["after"]["estimate"]["hourly"][end]) for item in report["objects"]
        )
    assert Decimal(total["delta"]["gpus"]) == 2 + 8
    assert infer["identity"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "ml-serve",
        "name": "infer",
    }


def test_the_new_denial_is_named_and_fails_the_gate_with_fail_on_deny(repo, capsys):
    status, report = diff_json(
        capsys, "--base", "HEAD~1", "--head", "HEAD", "-f", "k8s", "--fail-on", "deny"
    )
    assert status == 1
    train = by_name(report)["big-train"]
    assert train["after"]["verdict"] == "denied"
    rules = {v["rule"] for v in train["newFindings"] if v["action"] == "deny"}
    assert "max-gpus-per-pod" in rules
    assert by_name(report)["infer"]["newFindings"] == []  # scaling broke no rule


def test_the_working_tree_is_the_default_head(repo, capsys):
    (repo / "k8s" / "job.yaml").unlink()  # not committed: the working tree drops the Job
    status, report = diff_json(capsys, "--base", "HEAD~1", "-f", "k8s", "--fail-on", "deny")
    assert status == 0
    assert set(by_name(report)) == {"infer"}
    assert report["head"] == "working tree"


def test_increase_over_a_share_or_an_amount_gates_the_monthly_total(repo, capsys):
    args = ["diff", "--base", "HEAD~1", "-f", "k8s/deploy.yaml"]
    args += ["--namespace-labels-file", "namespaces.yaml"]
    assert main([*args, "--fail-on", "increase-over", "10%"]) == 1  # 2 → 4 replicas: +100 %
    assert "fail: the monthly total rises by" in capsys.readouterr().err
    assert main([*args, "--fail-on", "increase-over", "150%"]) == 0
    assert main([*args, "--fail-on", "increase-over", "100000"]) == 0
    assert main([*args, "--fail-on", "increase-over", "100"]) == 1


def test_markdown_is_a_pull_request_comment_with_the_changed_objects_only(repo, capsys):
    (repo / "k8s" / "service.yaml").write_text(SERVICE)  # unchanged objects stay out
    status = main(
        [
            *("diff", "--base", "HEAD~1", "--head", "HEAD", "-f", "k8s"),
            *("--namespace-labels-file", "namespaces.yaml", "-o", "markdown"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "### costwarden: cost change"
    assert "| OBJECT | GPUS | $/H | Δ $/MONTH | VERDICT |" in lines
    rows = [line for line in lines if line.startswith("| ") and "OBJECT" not in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| Deployment ml-serve/infer",
        "| Job ml-serve/big-train (added)",
    ]
    assert "– → denied" in rows[1]
    assert "**New violations**" in lines
    assert any(
        line.startswith("- DENY Job ml-serve/big-train: [max-gpus-per-pod]") for line in lines
    )


def test_rendered_manifests_from_stdin_against_a_file(tmp_path, monkeypatch, capsys):
    # `helm template . | costwarden diff --base base.yaml -f -`
    base = tmp_path / "base.yaml"
    base.write_text(DEPLOYMENT)
    labels = tmp_path / "namespaces.yaml"
    labels.write_text(NAMESPACES)
    monkeypatch.setattr("sys.stdin", io.StringIO(DEPLOYMENT + "---\n" + JOB))
    status = main(
        [
            *("diff", "--base", str(base), "-f", "-"),
            *("--namespace-labels-file", str(labels), "-o", "json"),
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert {item["identity"]["name"]: item["change"] for item in report["objects"]} == {
        "infer": "unchanged",
        "big-train": "added",
    }
    assert report["total"]["delta"]["gpus"] == "8"


def test_a_ref_that_does_not_exist_is_an_input_error_not_a_traceback(repo, capsys):
    status = main(["diff", "--base", "no-such-branch", "-f", "k8s"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: no-such-branch: not a file or directory, nor a git ref")
    assert "Traceback" not in err


def test_nothing_on_either_side_is_an_input_error(tmp_path, capsys):
    empty = tmp_path / "svc.yaml"
    empty.write_text(SERVICE)
    status = main(["diff", "--base", str(empty), "-f", str(empty)])
    assert status == 2
    assert "nothing was compared" in capsys.readouterr().err


def test_a_fail_on_condition_it_does_not_know_is_an_input_error(repo, capsys):
    status = main(["diff", "--base", "HEAD~1", "-f", "k8s", "--fail-on", "increase-over", "lots"])
    assert status == 2
    assert "--fail-on increase-over lots" in capsys.readouterr().err
