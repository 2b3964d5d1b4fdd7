"""`costwarden estimate` and `check` on estimates that are a range or unpriced (#21): the
table, its JSON and the check table show both ends of a range and `unpriced` with what the
catalog lacks — never a lower bound as the price."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden import cli

UNCATALOGUED = """\
apiVersion: v1
kind: Pod
metadata: {name: h100-box, namespace: ml-train}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: p9.4xlarge}
  containers:
  - name: c
    image: x
    resources:
      requests: {cpu: "8", memory: 64Gi}
      limits: {nvidia.com/gpu: "1"}
"""

UNNAMED_MODEL = """\
apiVersion: v1
kind: Pod
metadata: {name: any-gpu, namespace: ml-train}
spec:
  containers:
  - name: c
    image: x
    resources:
      requests: {cpu: "4", memory: 16Gi}
      limits: {nvidia.com/gpu: "1"}
"""

PINNED = """\
apiVersion: v1
kind: Pod
metadata: {name: on-g5, namespace: ml-train}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}
  containers:
  - name: c
    image: x
    resources:
      requests: {cpu: "2", memory: 8Gi}
      limits: {nvidia.com/gpu: "1"}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(list(args))
    return status, capsys.readouterr().out


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    return str(path)


def test_estimate_of_a_pod_pinned_to_an_uncatalogued_type_says_unpriced_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(capsys, "estimate", "-f", write(tmp_path, UNCATALOGUED))
    assert status == cli.EXIT_OK
    row = next(line for line in out.splitlines() if line.startswith("h100-box"))
    assert row.split()[-2:] == ["unpriced", "unpriced"]
    assert (
        "· unpriced: instance type p9.4xlarge not in the catalog — add it to a catalog "
        "(docs/cost-model.md#adding-a-price)" in out
    )
    assert "TOTAL counts only what is priced of Pod h100-box" in out
    status, out = run(capsys, "estimate", "-f", write(tmp_path, UNCATALOGUED), "-o", "json")
    (obj,) = json.loads(out)["objects"]
    estimate = obj["estimate"]
    assert estimate["unpriced"] == ["instance type p9.4xlarge not in the catalog"]
    assert estimate["instanceType"] == "p9.4xlarge"
    assert estimate["gpus"] == "1"
    assert estimate["breakdown"]["accelerator"] == "0.000000"  # never the cheapest GPU's price
    assert json.loads(out)["total"]["unpriced"] == 1


def test_estimate_of_a_pod_with_an_unnamed_gpu_model_shows_a_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(capsys, "estimate", "-f", write(tmp_path, UNNAMED_MODEL), "-o", "json")
    assert status == cli.EXIT_OK
    (obj,) = json.loads(out)["objects"]
    estimate = obj["estimate"]
    low, high = estimate["hourly"]["low"], estimate["hourly"]["high"]
    assert Decimal(low) < Decimal(high)
    assert estimate["gpuModelLow"] != estimate["gpuModel"]
    assert any("model not named" in why for why in estimate["rangeReasons"])
    assert estimate["unpriced"] == []
    status, out = run(capsys, "estimate", "-f", write(tmp_path, UNNAMED_MODEL))
    row = next(line for line in out.splitlines() if line.startswith("any-gpu"))
    hourly = row.split()[-2]
    assert hourly == f"{float(low):.4f}–{float(high):.4f}"
    model = row.split()[5]
    assert model == f"{estimate['gpuModelLow']}–{estimate['gpuModel']}"
    assert "· range: nvidia.com/gpu: model not named" in out


def test_estimate_of_a_pinned_catalogued_type_is_one_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _status, out = run(capsys, "estimate", "-f", write(tmp_path, PINNED), "-o", "json")
    (obj,) = json.loads(out)["objects"]
    estimate = obj["estimate"]
    assert estimate["hourly"]["low"] == estimate["hourly"]["high"]
    assert estimate["gpuModelLow"] == estimate["gpuModel"]
    assert estimate["rangeReasons"] == []


def test_check_shows_the_range_the_gpu_model_and_unpriced_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "a.yaml").write_text(UNNAMED_MODEL)
    (manifests / "b.yaml").write_text(UNCATALOGUED)
    labels = tmp_path / "namespaces.yaml"
    labels.write_text("ml-train: {cost-centre: Sales-5045}\n")
    status, out = run(
        capsys, "check", "-f", str(manifests), "--namespace-labels-file", str(labels),
        "--now", "2026-11-22T12:00:00Z",
    )  # fmt: skip
    assert status == cli.EXIT_DENIED  # the bundled budget denies what it cannot price
    lines = out.splitlines()
    unnamed = next(line for line in lines if line.startswith("Pod ml-train/any-gpu"))
    assert "–" in unnamed.split()[-3]  # $/h: low–high
    boxed = next(line for line in lines if line.startswith("Pod ml-train/h100-box"))
    assert boxed.split()[-3:-1] == ["unpriced", "unpriced"]
    assert "+ 1 unpriced" in lines[3]
    assert (
        "  UNPRICED instance type p9.4xlarge not in the catalog — add it to a catalog "
        "(docs/cost-model.md#adding-a-price)"
    ) in lines
    assert not any(line.startswith("  NOTE  costwarden:") for line in lines)
    _status, out = run(
        capsys, "check", "-f", str(manifests), "--namespace-labels-file", str(labels),
        "--now", "2026-11-22T12:00:00Z", "-o", "json",
    )  # fmt: skip
    found = {o["identity"]["name"]: o["estimate"] for o in json.loads(out)["objects"]}
    assert found["h100-box"]["unpriced"] == ["instance type p9.4xlarge not in the catalog"]
    hourly = found["any-gpu"]["hourly"]
    assert Decimal(hourly["low"]) < Decimal(hourly["high"])
