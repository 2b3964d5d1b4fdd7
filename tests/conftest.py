"""Shared test fixtures and the rule for real components.

A test that needs a real component (Prometheus, Helm, kubernetes-validate schemas) calls
`require(...)`: locally a missing component skips the test with the install hint; under
CI (`CI=true`) it fails, so a green CI always means the real component ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ADMISSION_FIXTURES = FIXTURES / "admission"
MANIFEST_FIXTURES = FIXTURES / "manifests"


def require(available: bool, *, what: str, install: str) -> None:
    """Skip (locally) or fail (CI=true) when a real component is missing."""
    if available:
        return
    message = f"{what} is not available; install it with: {install}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
