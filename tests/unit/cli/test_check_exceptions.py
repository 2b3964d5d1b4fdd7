"""`costwarden check -f` reads PolicyExceptions among the manifests as the cluster holds them
(a `kubectl get pex -A -o yaml` dump included): never silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from costwarden import cli

NOW = "2026-11-22T12:00:00Z"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: train
  namespace: ml-train
  labels: {cost-centre: Sales-5045, team: nlp, cost-exception: FIN-1234}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: p4d.24xlarge}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  containers:
  - name: c
    image: pytorch
    resources:
      requests: {cpu: "8", memory: 64Gi, nvidia.com/gpu: "8"}
      limits: {nvidia.com/gpu: "8"}
"""
DUMP = """\
apiVersion: v1
kind: List
items:
- apiVersion: costwarden.io/v1alpha1
  kind: PolicyException
  metadata:
    name: fin-1234-retrain
    namespace: ml-train
    uid: 6f1d2c1e-0000-4000-8000-000000000001
    resourceVersion: "4711"
    creationTimestamp: "2026-11-20T09:00:00Z"
    managedFields: [{manager: kubectl, operation: Update}]
    annotations: {costwarden.io/approved-by: fiona@finance.example}
  spec:
    rules: [max-gpus-per-pod]
    tickets: [FIN-1234]
    expires: "2026-12-15"
    reason: quarterly retrain
"""


def check(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(["check", "-f", str(directory), "--now", NOW])
    return status, capsys.readouterr().out


def test_an_exception_dumped_from_the_cluster_waives_as_it_would_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    status, out = check(tmp_path, capsys)
    assert status == cli.EXIT_DENIED
    assert "DENY  [max-gpus-per-pod]" in out
    (tmp_path / "exceptions.yaml").write_text(DUMP)
    status, out = check(tmp_path, capsys)
    assert status == cli.EXIT_OK, out
    assert "DENY  [max-gpus-per-pod]" not in out
    assert "EXEMPT [max-gpus-per-pod]" in out
    assert "PolicyException ml-train/fin-1234-retrain approved by fiona@finance.example" in out


def test_a_malformed_exception_among_the_manifests_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "exceptions.yaml").write_text(DUMP.replace("    reason: quarterly retrain\n", ""))
    assert cli.main(["check", "-f", str(tmp_path), "--now", NOW]) == cli.EXIT_INPUT_ERROR
    assert "items[0].spec.reason: required field is missing" in capsys.readouterr().err


def test_an_unapproved_exception_among_the_manifests_is_an_input_error_not_a_waiver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A pull request that adds its own exception must not pass the gate with it.
    (tmp_path / "pod.yaml").write_text(POD)
    unapproved = DUMP.replace(
        "    annotations: {costwarden.io/approved-by: fiona@finance.example}\n", ""
    )
    (tmp_path / "exceptions.yaml").write_text(unapproved)
    assert cli.main(["check", "-f", str(tmp_path), "--now", NOW]) == cli.EXIT_INPUT_ERROR
    assert "not approved: no costwarden.io/approved-by annotation" in capsys.readouterr().err
