"""`costwarden estimate`: tables, JSON, composition with user catalogs and input errors."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from costwarden import cli, estimating
from costwarden.catalog import loading
from costwarden.engine import wording

EXAMPLES = Path(estimating.__file__).resolve().parent.parent / "data" / "examples"

TINY_CATALOG = """\
apiVersion: costwarden.io/v1alpha1
kind: PriceCatalog
metadata: {name: tiny, version: "1"}
spec:
  currency: USD
  fallback: {cpuHourly: "0.04", memoryGiBHourly: "0.005", source: test, effectiveDate: 2026-01-01}
  accelerators:
  - {model: l4, hourly: "0.60", source: test, effectiveDate: 2026-01-01, aliases: [NVIDIA-L4]}
  instanceTypes:
  - name: box.4
    provider: other
    region: lab
    vcpu: 4
    memoryGiB: 16
    accelerators: {model: l4, count: 1}
    onDemandHourly: "1.00"
    source: test
    effectiveDate: 2026-01-01
"""

POD_ON_BOX = """\
apiVersion: v1
kind: Pod
metadata: {name: half-box, namespace: lab}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: box.4}
  containers:
  - name: c
    image: busybox
    resources:
      requests: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
      limits: {nvidia.com/gpu: "1"}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["estimate", *args])
    out, err = capsys.readouterr()
    return status, out, err


def example_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            objects.extend(doc["items"] if doc["kind"] == "List" else [doc])
    return objects


def test_json_prices_every_example_and_totals_them(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "-f", str(EXAMPLES), "-o", "json")
    assert status == cli.EXIT_OK
    report = json.loads(out)
    catalog = loading.bundled_catalog()
    estimates = [estimating.estimate_object(o, catalog=catalog) for o in example_objects()]
    priced = [e for e in estimates if e is not None]
    assert [o["identity"]["name"] for o in report["objects"]] == [e.name for e in priced]
    assert {(s["identity"]["kind"], s["identity"]["name"]) for s in report["skipped"]} == {
        ("Service", "llama-neuron"),
        ("ConfigMap", "llama-neuron-config"),
    }
    rows = [o["estimate"] for o in report["objects"]]
    for row, estimate in zip(rows, priced, strict=True):
        assert row["hourly"]["high"] == str(wording.rounded(estimate.hourly.total, 6))
    # a total is the exact sum of its rows as written
    total = report["total"]
    assert Decimal(total["hourly"]["high"]) == sum(Decimal(r["hourly"]["high"]) for r in rows)
    known = [r["monthly"] for r in rows if r["monthly"] is not None]
    assert Decimal(total["monthly"]["high"]) == sum(Decimal(m["high"]) for m in known)
    assert total["monthlyUnknown"] == len(rows) - len(known)
    raw = sum((e.hourly.total for e in priced), Decimal(0))
    assert abs(Decimal(total["hourly"]["high"]) - raw) <= Decimal("0.000001") * len(rows)


def test_table_shows_each_object_its_breakdown_assumptions_and_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "-f", str(EXAMPLES / "sweep-job.yaml"))
    assert status == cli.EXIT_OK
    catalog = loading.bundled_catalog()
    (obj,) = example_objects_in("sweep-job.yaml")
    expected = estimating.estimate_object(obj, catalog=catalog)
    assert expected is not None
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("hparam-sweep"))
    assert row.split() == [
        "hparam-sweep", "Job", "ml-dev", "4", "4", "l4", "spot",
        f"{wording.rounded(expected.hourly.total, 4):,.4f}",
        "-",  # a Job runs once: its figure is per run, not per month
    ]  # fmt: skip
    assert expected.per_run is not None
    assert any(f"per run ${wording.rounded(expected.per_run, 2):,.2f}" in line for line in lines)
    assert any(line.strip().startswith("├─ cpu") for line in lines)
    assert any("Job: 4 pods at once" in line for line in lines)
    assert lines[-1].split()[0] == "TOTAL"


def example_objects_in(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((EXAMPLES / name).read_text()))


def test_user_catalog_alone_prices_by_its_own_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "catalog.yaml").write_text(TINY_CATALOG)
    (tmp_path / "pod.yaml").write_text(POD_ON_BOX)
    status, out, _ = run(
        capsys,
        "-f", str(tmp_path / "pod.yaml"),
        "--catalog", str(tmp_path / "catalog.yaml"),
        "--no-bundled-catalog",
        "-o", "json",
    )  # fmt: skip
    assert status == cli.EXIT_OK
    (row,) = json.loads(out)["objects"]
    # weight of box.4 = 4 × 0.04 + 16 × 0.005 + 0.60 = 0.84; the pod's own weight is
    # 2 × 0.04 + 8 × 0.005 + 0.60 = 0.72, so it pays 1.00 × 0.72 / 0.84 of the box.
    expected = Decimal("1.00") * Decimal("0.72") / Decimal("0.84")
    estimate = row["estimate"]
    one = str(wording.rounded(expected, 6))
    assert estimate["hourly"] == {"low": one, "high": one}
    assert estimate["instanceType"] == "box.4"
    assert estimate["monthly"]["high"] == str(wording.rounded(expected * 730, 6))


def test_list_items_are_priced_with_their_path(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "-f", str(EXAMPLES / "shared-gpu-list.yaml"), "-o", "json")
    assert status == cli.EXIT_OK
    objects = json.loads(out)["objects"]
    assert [(o["identity"]["kind"], o["path"]) for o in objects] == [
        ("Pod", "items[0]"),
        ("ReplicaSet", "items[1]"),
    ]


def test_stdin_is_read_with_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((EXAMPLES / "gpu-train-pod.yaml").read_text()))
    status, out, _ = run(capsys, "-f", "-", "-o", "json")
    assert status == cli.EXIT_OK
    (row,) = json.loads(out)["objects"]
    assert (row["identity"]["name"], row["estimate"]["instanceType"]) == (
        "train-a100",
        "p4d.24xlarge",
    )


def test_invalid_quantity_exits_2_naming_file_document_path_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: ConfigMap\napiVersion: v1\n---\n" + POD_ON_BOX.replace('cpu: "2"', "cpu: two")
    )
    status, out, err = run(capsys, "-f", str(bad))
    assert status == cli.EXIT_INPUT_ERROR
    assert out == ""
    assert f"{bad}:13: document 1: spec.containers[0].resources.requests.cpu:" in err
    assert "'two' is not a Kubernetes quantity" in err


def test_every_problem_is_reported_not_just_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n---\nmetadata: {name: x}\n---\nkind: Pod\napiVersion: v1\n")
    status, _, err = run(capsys, "-f", str(bad))
    assert status == cli.EXIT_INPUT_ERROR
    assert f"{bad}:1: document 0: not a Kubernetes object" in err
    assert f"{bad}:4: document 1: apiVersion and kind missing" in err
    assert f"{bad}:6: document 2: spec: required field is missing" in err


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "-f", str(tmp_path / "missing.yaml"))
    assert status == cli.EXIT_INPUT_ERROR
    assert f"{tmp_path / 'missing.yaml'}: cannot read file" in err


def test_broken_catalog_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "catalog.yaml").write_text(TINY_CATALOG.replace('onDemandHourly: "1.00"', "x: 1"))
    (tmp_path / "pod.yaml").write_text(POD_ON_BOX)
    status, _, err = run(
        capsys, "-f", str(tmp_path / "pod.yaml"), "--catalog", str(tmp_path / "catalog.yaml")
    )
    assert status == cli.EXIT_INPUT_ERROR
    assert "catalog.yaml" in err


def test_cost_model_docs_sample_output_is_what_the_command_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs = (EXAMPLES.parent.parent.parent.parent / "docs" / "cost-model.md").read_text()
    command = "$ costwarden estimate -f gpu-train-pod.yaml -f mig-infer-pod.yaml -f sweep-job.yaml"
    start = docs.index(command) + len(command) + 1
    sample = docs[start : docs.index("```", start)]
    names = command.split()[4::2]
    status, out, _ = run(capsys, *(arg for name in names for arg in ("-f", str(EXAMPLES / name))))
    assert status == cli.EXIT_OK
    assert out == sample


def test_a_breakdown_too_long_for_its_column_wraps_under_itself_and_keeps_every_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n"
        "spec: {containers: [{name: c, image: x, resources: {limits: "
        '{nvidia.com/gpu: "2", aws.amazon.com/neuroncore: "1"}}}]}\n'
    )
    status, out, _ = run(capsys, "-f", str(tmp_path / "pod.yaml"))
    assert status == cli.EXIT_OK
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("  └─ accelerator  "))
    # The figures stay in their columns (right-aligned with the object's row); the rest of
    # the description goes on the next line, aligned under its start.
    assert len(lines[row]) == len(lines[3])
    # No cpu or memory requested: the accelerator is all of it, at the high end of the range.
    assert lines[row].split()[-2:] == [f.split("–")[-1] for f in lines[3].split()[-2:]]
    described = lines[row].removeprefix("  └─ accelerator  ").split("  ")[0]
    continued = lines[row + 1]
    assert continued.startswith(" " * len("  └─ accelerator  "))
    assert f"{described} {continued.strip()}" == "2 × nvidia.com/gpu, 1 × aws.amazon.com/neuroncore"


NIGHTLY = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ml}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      parallelism: 3
      template:
        metadata:
          annotations: {costwarden.io/expected-runtime: 1h}
        spec:
          restartPolicy: Never
          nodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}
          containers:
          - name: train
            image: x
            resources:
              requests: {cpu: "4", memory: 16Gi, nvidia.com/gpu: "1"}
              limits: {nvidia.com/gpu: "1"}
"""


def test_a_nightly_cronjob_shows_its_cost_per_run_and_per_month_from_its_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nightly.yaml").write_text(NIGHTLY)
    # 3 pods × one g5.xlarge (1.006 $/h, list) × 1 h a run × 365/12 runs a month.
    per_run = 3 * Decimal("1.006")
    per_month = per_run * 365 / 12
    status, out, _ = run(capsys, "-f", str(tmp_path / "nightly.yaml"))
    assert status == cli.EXIT_OK
    row = next(line for line in out.splitlines() if line.startswith("nightly"))
    assert row.split()[-2:] == ["3.0180", f"{wording.rounded(per_month, 2):,.2f}"]
    assert per_month < 100  # not 3.018 × 730 = 2,203.14
    assert (
        f"per run ${wording.rounded(per_run, 2):,.2f}, "
        f"per month ${wording.rounded(per_month, 2):,.2f}: 30.42 runs/month ('0 2 * * *' UTC); "
        "1 h a run (costwarden.io/expected-runtime)"
    ) in out
    status, out, _ = run(capsys, "-f", str(tmp_path / "nightly.yaml"), "-o", "json")
    (obj,) = json.loads(out)["objects"]
    estimate = obj["estimate"]
    assert estimate["perRun"]["high"] == str(wording.rounded(per_run, 6))
    assert Decimal(estimate["monthly"]["high"]) == wording.rounded(per_month, 6)
    assert estimate["hoursPerMonth"] == str(wording.rounded(Decimal(365) / 12, 6))


def test_a_cronjob_with_no_run_length_has_no_monthly_figure_never_730_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nightly.yaml").write_text(
        NIGHTLY.replace("annotations: {costwarden.io/expected-runtime: 1h}", "labels: {a: b}")
    )
    status, out, _ = run(capsys, "-f", str(tmp_path / "nightly.yaml"))
    assert status == cli.EXIT_OK
    row = next(line for line in out.splitlines() if line.startswith("nightly"))
    assert row.split()[-2:] == ["3.0180", "-"]
    assert "$/h is per running hour and $/month unknown" in out
    assert "$/MONTH total leaves out CronJob nightly" in out
    status, out, _ = run(capsys, "-f", str(tmp_path / "nightly.yaml"), "-o", "json")
    (obj,) = json.loads(out)["objects"]
    estimate = obj["estimate"]
    assert (estimate["monthly"], estimate["perRun"], estimate["hoursPerMonth"]) == (
        None,
        None,
        None,
    )
