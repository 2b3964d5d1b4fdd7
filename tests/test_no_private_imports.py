"""Tests use what `src/` offers, not its private names (`_name`): a test that reached into
one would pin an implementation detail and fail on a refactor that changed no behaviour.
This reads every test module's source, so it fails the day such a reach comes back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


NAMED_TUPLE_API = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
"""Public, though spelt with an underscore (`collections.namedtuple`)."""


def _private(name: str) -> bool:
    dunder = name.startswith("__") and name.endswith("__")
    return name.startswith("_") and not dunder and name not in NAMED_TUPLE_API


def reaches(source: str) -> list[str]:
    """Where `source` imports or reads a private name of costwarden, as `line: what`."""
    tree = ast.parse(source)
    ours: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "costwarden":
                    ours.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("costwarden"):
            for alias in node.names:
                if _private(alias.name) or any(_private(p) for p in node.module.split(".")):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                ours.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value  # what the chain starts from: `x` in `x.a(...)[0]._b`
            while isinstance(base, ast.Attribute | ast.Call | ast.Subscript):
                base = base.func if isinstance(base, ast.Call) else base.value
            if isinstance(base, ast.Name) and base.id in ours:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in TESTS.rglob("*.py") if p.name != Path(__file__).name),
    ids=lambda p: str(p.relative_to(TESTS)),
)
def test_no_test_reaches_into_a_private_name_of_src(path: Path) -> None:
    assert reaches(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from costwarden.spend import prometheus\nprometheus._vector(1)\n",
        "from costwarden.engine.rules.budget import _charge\n",
        "import costwarden.memos\ncostwarden.memos.Memo(entries=1, size=1)._entries\n",
        "from costwarden.memos import Memos\nMemos().pins._entries.clear()\n",
    ],
)
def test_the_reading_finds_each_reach(source: str) -> None:
    assert reaches(source)


def test_a_tests_own_private_helpers_and_named_tuple_methods_are_no_reach() -> None:
    assert reaches("def _helper(): ...\n_helper()\nclass K:\n    _x = 1\nK._x\n") == []
    assert reaches("from costwarden.engine.ports import Reservation\nReservation._fields\n") == []
