"""`costwarden lint`: every problem on its own line, a summary, exit 1 on problems, 0 when clean."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from costwarden import cli
from costwarden.cli import lint
from costwarden.documents import Problem

BAD = textwrap.dedent(
    """\
    apiVersion: costwarden.io/v1alpha1
    kind: PriceCatalog
    metadata: {name: bad}
    spec:
      instanceTypes:
      - name: g5.xlarge
        provider: aws
        region: us-east-1
        vcpu: 4
        memoryGiB: 16
        onDemandHourly: -1.006
        source: typo test
      - name: g5.xlarge
        provider: aws
        region: us-east-1
        vcpu: 4
        memoryGiB: 16
        onDemandHourly: 1.006
        source: typo test
        effectiveDate: 2026-07-20
    """
)


def test_lint_without_arguments_checks_the_bundled_policies_and_catalog_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["lint"]) == 0
    out = capsys.readouterr().out
    assert out == "ok: no problems in the bundled policies, the bundled catalog\n"


def test_lint_reports_policy_problems_with_their_position_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text(
        "apiVersion: costwarden.io/v1alpha1\nkind: CostPolicy\nmetadata: {name: p}\n"
        "spec:\n  rules:\n  - name: r\n    gpuLimitz: {perPod: 4}\n"
    )
    assert cli.main(["lint", "--policies", str(policy)]) == 1
    out = capsys.readouterr().out
    assert f"{policy}:7: document 0: spec.rules[0].gpuLimitz" in out
    assert "1 problem in 1 file (policies" in out


def test_lint_prints_each_problem_with_file_line_document_and_path_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    assert cli.main(["lint", "--catalog", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"{bad}:6: document 0: spec.instanceTypes[0].effectiveDate: required field is missing"
    )
    assert lines[1] == (
        f"{bad}:11: document 0: spec.instanceTypes[0].onDemandHourly: "
        "Input should be greater than or equal to 0"
    )
    assert lines[2].startswith(f"{bad}:13: document 0: spec.instanceTypes[1].name: duplicate")
    assert lines[3] == f"3 problems in 1 file (catalog {bad})"
    assert len(lines) == 4


def test_lint_checks_every_catalog_given_and_a_clean_user_catalog_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "apiVersion: costwarden.io/v1alpha1\nkind: PriceCatalog\nmetadata: {name: g}\n"
        "spec: {currency: USD}\n",
        encoding="utf-8",
    )
    assert cli.main(["lint", "--catalog", str(good)]) == 0
    assert capsys.readouterr().out == f"ok: no problems in catalog {good}\n"
    missing = tmp_path / "missing.yaml"  # checked nothing there: an input error (exit 2)
    assert cli.main(["lint", "--catalog", str(good), "--catalog", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file or directory\n"


def test_report_prints_any_problems_it_is_given_and_chooses_the_exit_status() -> None:
    out = io.StringIO()
    problems = [
        Problem(
            source="policies/gpu.yaml", message="unknown field", document=1, path="spec.x", line=4
        ),
        Problem(source="catalog.yaml", message="cannot read file"),
    ]
    assert lint.report(problems, checked=["policies", "catalogs"], out=out) == cli.EXIT_DENIED
    assert out.getvalue().splitlines() == [
        "policies/gpu.yaml:4: document 1: spec.x: unknown field",
        "catalog.yaml: cannot read file",
        "2 problems in 2 files (policies, catalogs)",
    ]
    clean = io.StringIO()
    assert lint.report([], checked=["policies"], out=clean) == cli.EXIT_OK
    assert clean.getvalue() == "ok: no problems in policies\n"


def test_a_path_that_does_not_exist_is_an_input_error_not_a_finding(tmp_path, capsys):
    missing = tmp_path / "polcies"  # a typo in a CI job
    assert cli.main(["lint", "--policies", str(missing)]) == cli.EXIT_INPUT_ERROR
    assert capsys.readouterr().err == f"error: {missing}: no such file or directory\n"
