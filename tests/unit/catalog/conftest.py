"""Helpers for the catalog tests: write small catalog files and find lines in them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

HEADER = """\
apiVersion: costwarden.io/v1alpha1
kind: PriceCatalog
metadata: {name: team-prices, version: "2026-11"}
"""

WriteCatalog = Callable[[str, str], Path]


@pytest.fixture(scope="session")
def manifest_fixtures(pytestconfig: pytest.Config) -> Path:
    """tests/conftest.py's MANIFEST_FIXTURES. Not imported from there: pytest imports each
    conftest.py as the top-level module `conftest`, so which one an import gets is luck."""
    return pytestconfig.rootpath / "tests" / "fixtures" / "manifests"


@pytest.fixture
def write_catalog(tmp_path: Path) -> WriteCatalog:
    """Write `body` (dedented; HEADER prepended unless it has an apiVersion) to tmp_path/name."""

    def write(name: str, body: str) -> Path:
        text = textwrap.dedent(body)
        if "apiVersion" not in text:
            text = HEADER + text
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _line_of(path: Path, needle: str, *, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line of `path` containing `needle`."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found {occurrence} time(s) in {path}")


LineOf = Callable[..., int]


@pytest.fixture
def line_of() -> LineOf:
    """`line_of(path, needle, occurrence=1)`: where a test expects a problem to point."""
    return _line_of
