"""`costwarden audit`: showback, violations, exceptions and unpriced workloads of what runs,
and its HTML report as a real browser renders it."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import MANIFEST_FIXTURES, require

from costwarden.cli import main

NOW = "2026-12-06T12:00:00Z"
NAMESPACES = {
    "ml-train": {"cost-centre": "Sales-5045", "team": "nlp"},
    "ml-dev": {"cost-centre": "RnD-1001", "team": "vision", "env": "dev"},
    "ml-infer": {"cost-centre": "Retail-2045", "team": "search"},
}


def namespace_objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        for name, labels in NAMESPACES.items()
    ]


def captured_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(MANIFEST_FIXTURES.glob("*.yaml")):
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


def dump(path: Path, objects: list[dict[str, Any]]) -> Path:
    """`kubectl get ... -A -o yaml` prints one List."""
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    status = main(["audit", *args, "--now", NOW, "-o", "json"])
    assert status == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


@pytest.fixture
def captured_dump(tmp_path: Path) -> Path:
    return dump(tmp_path / "cluster.yaml", namespace_objects() + captured_objects())


def test_showback_totals_are_the_sums_of_the_per_object_estimates(captured_dump, capsys):
    report = audit_json(capsys, "-f", str(captured_dump))
    objects = report["objects"]
    assert len(objects) == len(captured_objects())
    estimates = [o["estimate"] for o in objects]
    hourly = sum(Decimal(e["hourly"]["high"]) for e in estimates)
    monthly = sum(Decimal(e["monthly"]["high"]) for e in estimates if e["monthly"] is not None)
    unknown = sum(1 for e in estimates if e["monthly"] is None)
    assert Decimal(report["total"]["hourly"]["high"]) == hourly
    assert Decimal(report["total"]["monthly"]["high"]) == monthly
    assert report["total"]["monthlyUnknown"] == unknown
    for dimension, groups in report["showback"].items():
        assert sum(Decimal(g["hourly"]) for g in groups) == hourly, dimension
        assert sum(Decimal(g["monthly"]) for g in groups) == monthly, dimension
        assert sum(g["objects"] for g in groups) == len(objects), dimension
    by_centre = {g["group"]: g for g in report["showback"]["costCentre"]}
    expected = sum(
        Decimal(o["estimate"]["hourly"]["high"])
        for o in objects
        if o["dimensions"]["costCentre"] == "Sales-5045"
    )
    assert Decimal(by_centre["Sales-5045"]["hourly"]) == expected


def test_violations_per_rule_are_what_admission_would_say_today(captured_dump, capsys):
    report = audit_json(capsys, "-f", str(captured_dump))
    rules = {entry["rule"]: entry for entry in report["violationsByRule"]}
    denied_by_object = {
        o["identity"]["name"]
        for o in report["objects"]
        for v in o["findings"]
        if v["action"] == "deny"
    }
    assert sum(entry["deny"] for entry in rules.values()) >= len(denied_by_object) > 0
    assert "notebook-alice" in denied_by_object  # the dev notebook off Spot
    assert "Pod ml-dev/notebook-alice" in rules["dev-on-spot"]["objects"]


def test_a_workload_is_counted_once_not_again_through_what_it_controls(tmp_path, capsys):
    deployment = next(o for o in captured_objects() if o["kind"] == "Deployment")
    deployment["metadata"]["uid"] = "d-1"
    name, namespace = deployment["metadata"]["name"], deployment["metadata"]["namespace"]
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-5d4f",
            "namespace": namespace,
            "uid": "rs-1",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "uid": "d-1",
                    "controller": True,
                }
            ],
        },
        "spec": {**deployment["spec"]},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-5d4f-abcde",
            "namespace": namespace,
            "labels": deployment["spec"]["template"]["metadata"].get("labels", {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{name}-5d4f",
                    "uid": "rs-1",
                    "controller": True,
                }
            ],
        },
        "spec": deployment["spec"]["template"]["spec"],
    }
    orphan = {**pod, "metadata": {**pod["metadata"], "name": "orphan"}}
    orphan["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "gone",
            "uid": "rs-9",
            "controller": True,
        }
    ]
    path = dump(tmp_path / "d.yaml", [*namespace_objects(), deployment, replica_set, pod, orphan])
    report = audit_json(capsys, "-f", str(path))
    kinds = sorted((o["identity"]["kind"], o["identity"]["name"]) for o in report["objects"])
    # the Deployment, and the pod whose controller the dump does not hold
    assert kinds == [("Deployment", name), ("Pod", "orphan")]


def exception(name: str, expires: str, *, tickets: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": {
            "name": name,
            "namespace": "ml-train",
            "annotations": {"costwarden.io/approved-by": "alice@example.com"},
        },
        "spec": {
            "rules": ["max-gpus-per-pod"],
            "reason": "benchmark run",
            "expires": expires,
            "tickets": tickets,
        },
    }


def big_pod(label: str | None) -> dict[str, Any]:
    pod = yaml.safe_load(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Pod
            metadata: {name: bench, namespace: ml-train}
            spec:
              tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
              containers:
              - name: c
                image: x
                resources: {limits: {nvidia.com/gpu: "8"}, requests: {cpu: "8", memory: 64Gi}}
            """
        )
    )
    if label is not None:
        pod["metadata"]["labels"] = {"cost-exception": label}
    return pod


def test_exceptions_report_their_state_and_stale_labels_are_found(tmp_path, capsys):
    objects = [
        *namespace_objects(),
        exception("gone", "2026-12-01T00:00:00Z", tickets=["FIN-1"]),
        exception("soon", "2026-12-09T00:00:00Z", tickets=["FIN-2"]),
        exception("later", "2027-03-01T00:00:00Z", tickets=["FIN-3"]),
        big_pod("FIN-1"),
    ]
    report = audit_json(capsys, "-f", str(dump(tmp_path / "x.yaml", objects)))
    states = {e["name"]: e["status"] for e in report["exceptions"]}
    assert states == {"gone": "expired", "soon": "expiring", "later": "active"}
    assert report["staleExceptionLabels"] == [
        {
            "object": "Pod ml-train/bench",
            "label": "cost-exception",
            "value": "FIN-1",
            "why": "PolicyException ml-train/gone expired 2026-12-01 00:00 UTC",
        }
    ]
    pod = next(o for o in report["objects"] if o["identity"]["name"] == "bench")
    assert pod["verdict"] == "denied"  # the expired exception waives nothing


def test_a_live_exception_says_what_it_waives(tmp_path, capsys):
    objects = [*namespace_objects(), exception("later", "2027-03-01T00:00:00Z", tickets=["FIN-3"])]
    objects.append(big_pod("FIN-3"))
    report = audit_json(capsys, "-f", str(dump(tmp_path / "x.yaml", objects)))
    assert report["exceptions"][0]["waives"] == ["Pod ml-train/bench"]
    assert report["staleExceptionLabels"] == []


def test_a_workload_the_catalog_cannot_price_is_listed_unpriced(tmp_path, capsys):
    pod = big_pod(None)
    pod["spec"]["nodeSelector"] = {"node.kubernetes.io/instance-type": "zz9.plural-z-alpha"}
    report = audit_json(capsys, "-f", str(dump(tmp_path / "x.yaml", [*namespace_objects(), pod])))
    [unpriced] = report["unpriced"]
    assert unpriced["object"] == "Pod ml-train/bench"
    assert any("zz9.plural-z-alpha" in reason for reason in unpriced["reasons"])


def test_a_dump_with_no_workloads_is_an_input_error(tmp_path, capsys):
    path = dump(tmp_path / "ns.yaml", namespace_objects())
    assert main(["audit", "-f", str(path)]) == 2
    assert "no workloads" in capsys.readouterr().err


def test_table_and_markdown_lead_with_the_summary(captured_dump, capsys):
    assert main(["audit", "-f", str(captured_dump), "--now", NOW]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("Audit as of 2026-12-06 12:00 UTC")
    assert table[1].startswith(f"{len(captured_objects())} workloads, $")
    assert main(["audit", "-f", str(captured_dump), "--now", NOW, "-o", "markdown"]) == 0
    markdown = capsys.readouterr().out.splitlines()
    assert markdown[0] == "## costwarden audit — 2026-12-06 12:00 UTC"
    assert "### Showback by cost centre" in markdown
    assert "| COST CENTRE | $/H | $/MONTH | GPUS | OBJECTS |" in markdown


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, what="Chromium", install="sudo apt-get install chromium")
    assert found is not None
    return found


def test_the_html_report_renders_its_totals_and_charts_in_a_real_browser(
    chromium, captured_dump, tmp_path, capsys
):
    page = tmp_path / "audit.html"
    status = main(["audit", "-f", str(captured_dump), "--now", NOW, "--report", str(page)])
    assert status == 0
    capsys.readouterr()
    report = audit_json(capsys, "-f", str(captured_dump))
    browse = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*browse, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    hourly = f"${Decimal(report['total']['hourly']['high']).quantize(Decimal('0.01')):,}"
    assert f'<div class="figure">{hourly}</div>' in dom  # the total, as the browser parsed it
    assert dom.count('class="bar"') >= len(report["showback"]["costCentre"])
    shot = tmp_path / "audit.png"
    subprocess.run(
        [*browse, "--window-size=1200,1400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 1400)
        colours = {colour for _, colour in image.convert("RGB").getcolors(1 << 20) or []}
    assert (0x2F, 0x6F, 0xB0) in colours  # the bars were drawn
    assert (0x3A, 0x9A, 0x5B) in colours  # Spot's share of a GPU model's bar


def test_from_cluster_without_credentials_is_one_clean_line(tmp_path, capsys):
    status = main(["audit", "--from-cluster", "--kubeconfig", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"error: --from-cluster: --kubeconfig {tmp_path / 'missing'}: no such file\n"


def test_from_cluster_when_the_api_server_cannot_be_reached_says_so(tmp_path, capsys):
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    status = main(["audit", "--from-cluster", "--kubeconfig", str(kubeconfig)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"error: http://127.0.0.1:{port}: cannot reach the API server")
    assert "Traceback" not in err
