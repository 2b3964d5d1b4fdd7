"""Access to the shared AdmissionReview fixtures for workload tests."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _root_conftest() -> ModuleType:
    # tests/conftest.py is not importable as `tests.conftest` (tests/ is no package), and
    # every conftest here is module `conftest`: load the root one under its own name.
    path = Path(__file__).resolve().parents[2] / "conftest.py"
    spec = importlib.util.spec_from_file_location("costwarden_tests_root_conftest", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT = _root_conftest()


@pytest.fixture
def admission_object() -> Callable[[str], dict[str, Any]]:
    """The `request.object` of a fixture AdmissionReview, by file name (skips if absent)."""

    def load(name: str) -> dict[str, Any]:
        path = ROOT.ADMISSION_FIXTURES / name
        if not path.exists():
            pytest.skip(f"{path} is not available")
        obj: dict[str, Any] = json.loads(path.read_text())["request"]["object"]
        return obj

    return load
