"""`check` and `serve` read namespace labels with one reader and one flag,
`--namespace-labels-file`: a plain map or what `kubectl get namespaces -o yaml` prints."""

from __future__ import annotations

import base64
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest

from costwarden import cli

NOW = "2026-11-22T12:00:00Z"
PLAIN = "ml-dev: {cost-centre: RnD-1001, team: vision, env: dev}\n"
KUBECTL = textwrap.dedent(
    """\
    apiVersion: v1
    items:
    - apiVersion: v1
      kind: Namespace
      metadata:
        creationTimestamp: "2026-01-05T09:12:44Z"
        labels:
          cost-centre: RnD-1001
          env: dev
          kubernetes.io/metadata.name: ml-dev
          team: vision
        name: ml-dev
        resourceVersion: "4211"
        uid: 0b1d8f0e-2a47-4c5e-9d0a-6f1c2b3a4d5e
      spec:
        finalizers:
        - kubernetes
      status:
        phase: Active
    kind: List
    metadata:
      resourceVersion: ""
    """
)
"""`kubectl get namespaces ml-dev -o yaml`, as kubectl prints a list."""
FORMS = {"plain map": PLAIN, "kubectl get ns -o yaml": KUBECTL}


@pytest.fixture(scope="module")
def notebook(pytestconfig: pytest.Config) -> Path:
    """A GPU pod in ml-dev, on no particular capacity type and without cost labels."""
    return pytestconfig.rootpath / "tests" / "fixtures" / "manifests" / "dev-notebook-pod.yaml"


def labels_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "namespaces.yaml"
    path.write_text(text)
    return path


def check_json(notebook: Path, *flags: str, capsys: pytest.CaptureFixture[str]) -> Any:
    status = cli.main(["check", "-f", str(notebook), "--now", NOW, "-o", "json", *flags])
    assert status in (0, 1), capsys.readouterr().err
    return json.loads(capsys.readouterr().out)["objects"][0]


@pytest.mark.parametrize("form", FORMS)
def test_check_applies_the_namespace_labels_of_either_form(
    form: str, notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = labels_file(tmp_path, FORMS[form])
    checked = check_json(notebook, "--namespace-labels-file", str(path), capsys=capsys)
    # env=dev puts the pod under the Spot-for-dev rule; cost-centre groups its budget.
    assert [v["rule"] for v in checked["findings"] if v["action"] == "deny"] == ["dev-on-spot"]
    assert any("cost-centre=RnD-1001" in notice for notice in checked["notices"])


def test_without_namespace_labels_the_same_pod_is_not_a_dev_pod(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checked = check_json(notebook, capsys=capsys)
    assert "dev-on-spot" not in [v["rule"] for v in checked["findings"]]


def test_check_reads_both_forms_to_the_same_verdict(
    notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = check_json(
        notebook, "--namespace-labels-file", str(labels_file(tmp_path / "a", PLAIN)), capsys=capsys
    )
    listed = check_json(
        notebook,
        "--namespace-labels-file",
        str(labels_file(tmp_path / "b", KUBECTL)),
        capsys=capsys,
    )
    assert listed == plain


def test_the_old_check_flag_still_works_and_says_it_is_deprecated(
    notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = labels_file(tmp_path, KUBECTL)
    status = cli.main(["check", "-f", str(notebook), "--now", NOW, "--namespace-labels", str(path)])
    captured = capsys.readouterr()
    assert status == 1
    assert "DENY  [dev-on-spot]" in captured.out
    assert "--namespace-labels is deprecated; use --namespace-labels-file" in captured.err
    assert "--namespace-labels " not in cli.build_parser(["check"]).format_help()


def test_a_bad_namespace_labels_file_exits_two_naming_file_line_and_path(
    notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = labels_file(tmp_path, KUBECTL.replace("env: dev", "env: 1"))
    status = cli.main(["check", "-f", str(notebook), "--namespace-labels-file", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{path}:7: document 0: items[0].metadata.labels: labels must be a map of strings" in err
    assert "Traceback" not in err


def test_a_namespace_among_the_manifests_with_bad_labels_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = tmp_path / "all.yaml"
    manifests.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: [x]}\n")
    assert cli.main(["check", "-f", str(manifests)]) == 2
    assert f"{manifests}:3: document 0: metadata.labels: " in capsys.readouterr().err


# --- serve ---------------------------------------------------------------------------------


def serve_settings(*args: str) -> Any:
    """The Settings `costwarden serve` builds from these arguments."""
    from costwarden import settings

    parsed = cli.build_parser(["serve"]).parse_args(["serve", *args])
    given = {field: getattr(parsed, field) for field in settings.Settings.model_fields}
    return settings.load(flags=given, environ={})


@pytest.mark.parametrize("flag", ["--namespace-labels-file", "--namespace-labels"])
def test_serve_takes_the_same_flag_and_the_old_spelling(flag: str, tmp_path: Path) -> None:
    path = labels_file(tmp_path, PLAIN)
    assert serve_settings(flag, str(path)).namespace_labels_file == path


@pytest.mark.parametrize("form", FORMS)
async def test_serve_copies_the_namespace_labels_of_either_form_onto_pods(
    form: str, tmp_path: Path
) -> None:
    from costwarden import app as application

    path = labels_file(tmp_path, FORMS[form])
    settings = serve_settings(
        "--namespace-labels-file", str(path), "--insecure-http", "--host", "127.0.0.1"
    )
    webhook = application.create_app(settings)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ml-dev"},
        "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {}}}]},
    }
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "ml-dev",
            "operation": "CREATE",
            "userInfo": {"username": "someone"},
            "object": pod,
        },
    }
    transport = httpx.ASGITransport(app=webhook.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = (await http.post("/mutate", json=review)).json()["response"]
    patch = jsonpatch.JsonPatch(json.loads(base64.b64decode(answer["patch"])))
    labels = patch.apply(pod)["metadata"]["labels"]
    assert labels == {"cost-centre": "RnD-1001", "team": "vision"}


def test_serve_refuses_to_start_on_a_bad_namespace_labels_file_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("COSTWARDEN_"):
            monkeypatch.delenv(name)
    path = labels_file(tmp_path, "ml-dev: [cost-centre]\n")
    status = cli.main(["serve", "--insecure-http", "--namespace-labels-file", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{path}:1: document 0: ml-dev: labels must be a map" in err
