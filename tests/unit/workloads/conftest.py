"""Access to the shared AdmissionReview fixtures for workload tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import ADMISSION_FIXTURES


@pytest.fixture
def admission_object() -> Callable[[str], dict[str, Any]]:
    """The `request.object` of a fixture AdmissionReview, by file name (skips if absent)."""

    def load(name: str) -> dict[str, Any]:
        path = ADMISSION_FIXTURES / name
        if not path.exists():
            pytest.skip(f"{path} is not available")
        obj: dict[str, Any] = json.loads(path.read_text())["request"]["object"]
        return obj

    return load
