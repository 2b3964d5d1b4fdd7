"""Every `policies/**/tests.yaml` case, one test each: the CI gate for policy changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from costwarden.cli import test as policy_tests

ROOT = Path(__file__).resolve().parent.parent.parent
SUITE_DIR = ROOT / "policies"
RESULTS = policy_tests.run_directory(SUITE_DIR)


@pytest.mark.parametrize("result", RESULTS, ids=[f"{r.suite}: {r.case}" for r in RESULTS])
def test_policy_suite_case_passes(result):
    assert result.passed, f"\n{result.diff}"


def test_every_bundled_policy_has_a_suite():
    assert {r.suite for r in RESULTS} >= {
        "cost-allocation",
        "gpu-limits",
        "spot-for-dev",
        "size-and-gpu-pool",
        "budgets",
    }
