"""`check` knows a namespace's labels or says they are unknown: never a false denial.

Labels come from `--namespace-labels-file`, Namespace objects among the manifests or
`--from-cluster`; a rule that reads the labels of a namespace none of them gave reports
"not checked"; `--require-namespaces` makes such a namespace an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from costwarden import cli, namespaces
from costwarden.documents import InvalidInput

NOW = "2026-11-22T12:00:00Z"
CPU_POD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Pod
    metadata: {name: etl, namespace: ml-train, labels: {app: etl}}
    spec:
      containers:
      - name: etl
        image: python:3.12
        resources: {requests: {cpu: "2", memory: 4Gi}}
    """
)
"""A CPU pod without cost labels: it inherits them from ml-train, or is denied."""
ML_TRAIN = "ml-train: {cost-centre: Sales-5045, team: nlp, env: prod}\n"
NAMESPACE_OBJECT = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: ml-train
      labels: {cost-centre: Sales-5045, team: nlp, env: prod}
    ---
    """
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def check(
    capsys: pytest.CaptureFixture[str], *args: str, output: str = "json"
) -> tuple[int, Any, str]:
    """(exit status, the JSON or table printed, stderr) of `costwarden check ARGS`."""
    status = cli.main(["check", "--now", NOW, "-o", output, *args])
    captured = capsys.readouterr()
    printed = json.loads(captured.out) if output == "json" and status in (0, 1) else captured.out
    return status, printed, captured.err


def rules_denying(result: Any) -> list[str]:
    return [v["rule"] for v in result["objects"][0]["findings"] if v["action"] == "deny"]


# --- inherited labels -------------------------------------------------------------------


def test_a_label_inherited_from_a_known_namespace_is_allowed_and_patched(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    labels = write(tmp_path, "ns.yaml", ML_TRAIN)
    status, result, _ = check(capsys, "-f", str(pod), "--namespace-labels-file", str(labels))
    assert status == 0
    assert rules_denying(result) == []
    patched = {p["path"]: p["value"] for p in result["objects"][0]["patches"]}
    assert patched["/metadata/labels/cost-centre"] == "Sales-5045"
    assert not any("not checked: labels" in n for n in result["objects"][0]["notices"])


def test_a_namespace_object_among_the_manifests_gives_the_labels(tmp_path, capsys):
    pod = write(tmp_path, "all.yaml", NAMESPACE_OBJECT + CPU_POD)
    status, result, _ = check(capsys, "-f", str(pod))
    assert status == 0
    assert rules_denying(result) == []
    assert not any("not checked: labels" in n for n in result["objects"][0]["notices"])


def test_unknown_namespace_labels_leave_inherited_labels_not_checked_never_denied(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    status, result, _ = check(capsys, "-f", str(pod))
    assert status == 0
    assert rules_denying(result) == []
    assert (
        "[require-cost-labels] cost-centre, team not checked: labels of namespace ml-train "
        "unknown (the pod may inherit them from there)"
    ) in result["objects"][0]["notices"]


def test_a_known_namespace_without_the_label_is_still_denied(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    labels = write(tmp_path, "ns.yaml", "ml-train: {env: prod}\n")
    status, result, _ = check(capsys, "-f", str(pod), "--namespace-labels-file", str(labels))
    assert status == 1
    # Known and without cost-centre: nobody pays either, so the budget denies too.
    assert set(rules_denying(result)) == {"require-cost-labels", "cost-centre-monthly-budget"}
    message = result["objects"][0]["findings"][0]["message"]
    assert "missing mandatory label cost-centre (neither the pod nor namespace ml-train" in message


def test_a_label_the_pod_lacks_and_cannot_inherit_is_denied_whatever_the_namespace(
    tmp_path, capsys
):
    # cost-centre inherits; a policy whose label does not inherit needs no namespace to judge.
    policy = write(
        tmp_path,
        "policy.yaml",
        textwrap.dedent(
            """\
            apiVersion: costwarden.io/v1alpha1
            kind: CostPolicy
            metadata: {name: p}
            spec:
              rules:
              - name: owner-label
                action: deny
                requiredLabels: {labels: [{key: owner}]}
            """
        ),
    )
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    status, result, _ = check(capsys, "-f", str(pod), "--policies", str(policy))
    assert status == 1
    assert rules_denying(result) == ["owner-label"]


# --- namespace selectors ----------------------------------------------------------------


def test_spot_for_dev_is_not_checked_when_the_namespace_is_unknown(
    pytestconfig: pytest.Config, capsys
):
    notebook = pytestconfig.rootpath / "tests" / "fixtures" / "manifests" / "dev-notebook-pod.yaml"
    status, result, _ = check(capsys, "-f", str(notebook))
    assert "dev-on-spot" not in rules_denying(result)
    assert (
        "[dev-on-spot] not checked: labels of namespace ml-dev unknown "
        "(it selects namespaces by label)"
    ) in result["objects"][0]["notices"]
    assert status == 0


SELECTING = textwrap.dedent(
    """\
    apiVersion: costwarden.io/v1alpha1
    kind: CostPolicy
    metadata: {{name: p}}
    spec:
      rules:
      - name: no-gpus-outside-prod
        action: deny
        {where}
        gpuLimits: {{maxPerPod: 0}}
    """
)
GPU_POD = CPU_POD.replace("memory: 4Gi}", 'memory: 4Gi, nvidia.com/gpu: "1"}')


@pytest.mark.parametrize(
    "where",
    [
        "match: {namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, "
        "values: [prod]}]}}",
        "exclude: {namespaceSelector: {matchLabels: {env: prod}}}",
    ],
    ids=["NotIn selector", "exclude by selector"],
)
def test_a_selector_that_empty_labels_would_satisfy_is_not_checked_when_unknown(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "policy.yaml", SELECTING.format(where=where))
    pod = write(tmp_path, "pod.yaml", GPU_POD)
    status, result, _ = check(capsys, "-f", str(pod), "--policies", str(policy))
    assert (status, rules_denying(result)) == (0, [])
    assert any(
        n.startswith("[no-gpus-outside-prod] not checked: labels of namespace ml-train unknown")
        for n in result["objects"][0]["notices"]
    )
    for labels, denied in ((ML_TRAIN, []), ("ml-train: {env: dev}\n", ["no-gpus-outside-prod"])):
        given = write(tmp_path, "ns.yaml", labels)
        status, result, _ = check(
            capsys, "-f", str(pod), "--policies", str(policy), "--namespace-labels-file", str(given)
        )
        assert rules_denying(result) == denied
        assert status == (1 if denied else 0)


# --- --require-namespaces ---------------------------------------------------------------


def test_require_namespaces_makes_unknown_labels_an_error_naming_them(
    pytestconfig: pytest.Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = pytestconfig.rootpath / "tests" / "fixtures" / "manifests"
    status, out, err = check(capsys, "-f", str(manifests), "--require-namespaces", output="table")
    assert status == cli.EXIT_INPUT_ERROR
    assert out == ""
    assert err.startswith("error: labels of namespaces ml-dev, ml-train unknown")
    assert "(--require-namespaces)" in err
    labels = write(tmp_path, "ns.yaml", ML_TRAIN + "ml-dev: {cost-centre: RnD-1001, team: a}\n")
    status, _, err = check(
        capsys,
        "-f",
        str(manifests),
        "--require-namespaces",
        "--namespace-labels-file",
        str(labels),
    )
    assert status in (0, 1), err


def test_the_table_ends_naming_the_namespaces_whose_labels_are_unknown(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    status, out, _ = check(capsys, "-f", str(pod), output="table")
    assert status == 0
    assert (
        out.rstrip()
        .splitlines()[-1]
        .startswith(
            "note: labels of namespace ml-train unknown (give them with --namespace-labels-file"
        )
    )


def test_a_labels_file_naming_no_namespace_is_an_error(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    empty = write(tmp_path, "ns.yaml", "# nothing here yet\n")
    status, _, err = check(capsys, "-f", str(pod), "--namespace-labels-file", str(empty))
    assert status == cli.EXIT_INPUT_ERROR
    assert f"error: {empty}: no namespaces found" in err


# --- --from-cluster ---------------------------------------------------------------------


def run_check(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "costwarden", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """No KUBECONFIG, no service account, a home without ~/.kube."""
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST") and not k.startswith("COSTWARDEN_")
    }
    env["HOME"] = str(tmp_path / "home")
    return env


def test_from_cluster_with_a_missing_kubeconfig_is_one_clean_line(tmp_path, clean_env):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    missing = tmp_path / "nowhere" / "config"
    done = run_check("-f", str(pod), "--from-cluster", "--kubeconfig", str(missing), env=clean_env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"error: --from-cluster: --kubeconfig {missing}: no such file\n"


def test_from_cluster_without_any_credentials_says_where_it_looked(tmp_path, clean_env):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    done = run_check("-f", str(pod), "--from-cluster", env=clean_env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: --from-cluster: no Kubernetes credentials")
    assert "Traceback" not in done.stderr


def test_from_cluster_with_no_api_server_listening_is_one_clean_line(tmp_path, clean_env):
    import socket

    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = write(
        tmp_path,
        "kubeconfig",
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
            users:
            - name: u
              user: {{token: t}}
            contexts:
            - name: x
              context: {{cluster: c, user: u}}
            current-context: x
            """
        ),
    )
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    done = run_check(
        "-f", str(pod), "--from-cluster", "--kubeconfig", str(kubeconfig), env=clean_env
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        f"error: --from-cluster: cannot list namespaces at https://127.0.0.1:{port} "
        f"(kubeconfig {kubeconfig}): "
    )


def test_kubeconfig_without_from_cluster_is_a_usage_error(tmp_path, capsys):
    pod = write(tmp_path, "pod.yaml", CPU_POD)
    status, _, err = check(capsys, "-f", str(pod), "--kubeconfig", str(tmp_path / "k"))
    assert status == cli.EXIT_INPUT_ERROR
    assert "--kubeconfig and --kube-context go with --from-cluster" in err


def test_a_namespace_list_as_the_api_server_sends_it_becomes_labels() -> None:
    # Items of a list come without kind, as `GET /api/v1/namespaces` sends them.
    items = [
        {"metadata": {"name": "ml-dev", "labels": {"env": "dev", "cost-centre": "RnD-1001"}}},
        {"metadata": {"name": "bare"}},
    ]
    assert namespaces.from_list(items, source="the cluster") == {
        "ml-dev": {"env": "dev", "cost-centre": "RnD-1001"},
        "bare": {},
    }


def test_a_namespace_list_item_with_bad_labels_is_named() -> None:
    items = [{"metadata": {"name": "a"}}, {"metadata": {"name": "b", "labels": {"x": 1}}}]
    with pytest.raises(InvalidInput) as raised:
        namespaces.from_list(items, source="the cluster")
    assert str(raised.value).startswith(
        "the cluster: document 0: items[1].metadata.labels: labels must be a map of strings"
    )


# --- --fail-on --------------------------------------------------------------------------


def test_fail_on_warn_fails_a_warned_object_deny_does_not(pytestconfig, tmp_path, capsys):
    mig = pytestconfig.rootpath / "tests" / "fixtures" / "manifests" / "mig-infer-pod.yaml"
    labels = write(tmp_path, "ns.yaml", ML_TRAIN)
    given = ("-f", str(mig), "--namespace-labels-file", str(labels))
    status, result, _ = check(capsys, *given)
    assert status == 0
    assert [v["action"] for v in result["objects"][0]["findings"]] == ["warn"]
    assert check(capsys, *given, "--fail-on", "deny")[0] == 0
    assert check(capsys, *given, "--fail-on", "warn")[0] == 1


# --- exceptions that select namespaces by label -----------------------------------------

BIG_POD_ASKING = CPU_POD.replace("memory: 4Gi}", 'memory: 4Gi, nvidia.com/gpu: "8"}').replace(
    "labels: {app: etl}",
    "labels: {app: etl, cost-centre: Sales-5045, team: nlp, cost-exception: FIN-7}",
)
DEV_ONLY_EXCEPTION = textwrap.dedent(
    """\
    ---
    apiVersion: costwarden.io/v1alpha1
    kind: PolicyException
    metadata:
      name: fin-7
      namespace: ml-train
      annotations: {costwarden.io/approved-by: finance-lead}
    spec:
      rules: [max-gpus-per-pod]
      match: {namespaceSelector: {matchLabels: {env: dev}}}
      expires: 2026-12-31
      reason: FIN-7 a one-off sweep, dev namespaces only
    """
)


def test_an_exception_selecting_namespaces_by_label_is_not_checked_when_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = write(tmp_path, "all.yaml", BIG_POD_ASKING + DEV_ONLY_EXCEPTION)
    _, result, _ = check(capsys, "-f", str(manifests))
    assert "max-gpus-per-pod" not in rules_denying(result)  # 8 GPUs breach the envelope too
    assert (
        "[max-gpus-per-pod] not checked: PolicyException ml-train/fin-7 may waive it, as the "
        "labels of namespace ml-train would say (unknown)"
    ) in result["objects"][0]["notices"]
    for labels, waived in (("ml-train: {env: dev}\n", True), (ML_TRAIN, False)):
        given = write(tmp_path, "ns.yaml", labels)
        _, result, _ = check(capsys, "-f", str(manifests), "--namespace-labels-file", str(given))
        checked = result["objects"][0]
        assert [
            e["exception"].endswith("fin-7 approved by finance-lead") for e in checked["exempted"]
        ] == ([True] if waived else [])
        assert ("max-gpus-per-pod" in rules_denying(result)) is not waived
