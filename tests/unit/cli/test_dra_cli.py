"""`check`, `estimate` and `test` read the DRA objects among the manifests given (#21): the
pods' claims are priced from them, a shared ResourceClaim is charged once, a malformed one
is an input error naming file, line and path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden import cli
from costwarden.catalog.loading import bundled_catalog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dra"
POLICIES = Path(__file__).resolve().parents[3] / "policies"
CLASSES = str(FIXTURES / "deviceclasses.yaml")
NOW = "2026-11-22T12:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_denies_eight_h100s_asked_for_through_a_template(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys, "check", "-f", CLASSES, "-f", str(FIXTURES / "train-8xh100.yaml"), "--now", NOW
    )
    assert status == cli.EXIT_DENIED
    assert "[max-gpus-per-pod] pod requests 8 GPUs, above the limit of 4 per pod" in out


def test_check_without_the_template_says_unpriced_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys, "check", "-f", CLASSES, "-f", str(FIXTURES / "unknown-template.yaml"),
        "--now", NOW, "-o", "json",
    )  # fmt: skip
    report = json.loads(out)
    (obj,) = report["objects"]
    assert any("no-such-template" in why for why in obj["estimate"]["unpriced"])
    assert status in (cli.EXIT_OK, cli.EXIT_DENIED)  # as the rules say: never a crash


def test_estimate_charges_a_shared_claim_once(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "estimate", "-o", "json", "-f", CLASSES, "-f", str(FIXTURES / "shared-claim.yaml")
    )
    assert status == cli.EXIT_OK
    objects = json.loads(out)["objects"]
    assert sorted(o["identity"]["kind"] for o in objects) == ["Pod", "Pod", "Pod", "ResourceClaim"]
    accelerators = sum(Decimal(o["estimate"]["breakdown"]["accelerator"]) for o in objects)
    h100 = bundled_catalog().accelerators["h100-80gb"].hourly
    assert accelerators.quantize(Decimal("0.000001")) == (2 * h100).quantize(Decimal("0.000001"))
    assert sum(Decimal(o["estimate"]["gpus"]) for o in objects) == 2


def test_a_malformed_claim_template_exits_two_naming_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    text = (FIXTURES / "train-8xh100.yaml").read_text().replace("count: 8", "count: eight")
    bad.write_text(text)
    for command in ("check", "estimate"):
        status, _, err = run(capsys, command, "-f", CLASSES, "-f", str(bad))
        assert status == cli.EXIT_INPUT_ERROR
        assert str(bad) in err
        assert "spec.spec.devices.requests[0].exactly.count" in err
        assert f"{bad}:15:" in err


def test_a_policy_suite_prices_the_claims_of_its_resources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = [
        *(FIXTURES / "deviceclasses.yaml").read_text().split("\n---\n"),
        *(FIXTURES / "train-8xh100.yaml").read_text().split("\n---\n"),
    ]
    indented = "\n".join(
        "  - "
        + "\n    ".join(line for line in doc.strip().splitlines() if not line.startswith("#"))
        for doc in resources
    )
    suite = tmp_path / "tests.yaml"
    suite.write_text(
        f"""apiVersion: costwarden.io/v1alpha1
kind: PolicyTest
metadata: {{name: dra}}
spec:
  policies: ["{POLICIES / "gpu-limits.yaml"}"]
  now: "{NOW}"
  namespaces:
    ml-train: {{cost-centre: Sales-5045, team: nlp}}
  resources:
{indented}
  cases:
  - resource: train-8xh100
    expect: {{allowed: false, deny: [max-gpus-per-pod]}}
"""
    )
    status, out, _ = run(capsys, "test", str(suite))
    assert status == cli.EXIT_OK, out
    assert "1 passed, 0 failed" in out


def test_check_shows_a_shared_claim_once_on_its_own_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys, "check", "-o", "json", "-f", CLASSES, "-f", str(FIXTURES / "shared-claim.yaml"),
        "--now", NOW,
    )  # fmt: skip
    assert status == cli.EXIT_OK
    objects = json.loads(out)["objects"]
    rows = {
        f"{o['identity']['kind']} {o['identity']['namespace']}/{o['identity']['name']}": o[
            "estimate"
        ]
        for o in objects
    }
    assert set(rows) == {
        "ResourceClaim ml-infer/shared-h100",
        "Pod ml-infer/infer-0",
        "Pod ml-infer/infer-1",
        "Pod ml-infer/infer-2",
    }
    h100 = bundled_catalog().accelerators["h100-80gb"].hourly
    assert Decimal(rows["ResourceClaim ml-infer/shared-h100"]["gpus"]) == 2
    claim_hourly = rows["ResourceClaim ml-infer/shared-h100"]["hourly"]["high"]
    assert Decimal(claim_hourly) == (2 * h100).quantize(Decimal("0.000001"))
    assert sum(Decimal(r["gpus"]) for r in rows.values()) == 2


def test_audit_and_diff_price_claims_from_the_dra_objects_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "audit", "-o", "json", "-f", CLASSES, "-f", str(FIXTURES / "train-8xh100.yaml"),
        "--now", NOW,
    )  # fmt: skip
    assert status == cli.EXIT_OK
    total = json.loads(out)["total"]
    assert (total["gpus"], total["unpriced"]) == ("8", 0)
    base = tmp_path / "base"
    base.mkdir()
    (base / "classes.yaml").write_text((FIXTURES / "deviceclasses.yaml").read_text())
    status, out, _ = run(
        capsys, "diff", "-o", "json", "--base", str(base), "-f", CLASSES,
        "-f", str(FIXTURES / "train-8xh100.yaml"),
    )  # fmt: skip
    (added,) = [o for o in json.loads(out)["objects"] if o["identity"]["name"] == "train-8xh100"]
    after = added["after"]
    assert (after["verdict"], after["estimate"]["gpus"]) == ("denied", "8")
    assert after["estimate"]["unpriced"] == []
