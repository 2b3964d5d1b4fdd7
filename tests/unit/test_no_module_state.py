"""The engine, the estimator, policies and the catalog keep no state between calls.

What they memoise lives in the `Memos` object their caller passes in (`costwarden.memos`);
a module of theirs that kept a cache, a `global`, or a module-level container it fills
would make one review's result depend on the reviews before it, and tests on their order.
This reads their source, so it fails the day such a thing comes back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import costwarden

PURE = ("engine", "estimating", "policies", "catalog")
ROOT = Path(costwarden.__file__).parent
CACHES = {"cache", "lru_cache", "cached_property", "cached"}
MUTATORS = {"append", "add", "update", "setdefault", "pop", "popitem", "clear", "extend",
            "insert", "remove", "discard", "__setitem__"}  # fmt: skip


def _modules() -> list[Path]:
    return sorted(p for package in PURE for p in (ROOT / package).rglob("*.py"))


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign | ast.AugAssign)
            else []
        )
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _name_of(node: ast.expr) -> str | None:
    """`x` for `x`, `x.y` and `x[...]`: the name an expression starts from."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def state_kept(source: str) -> list[str]:
    """What in `source` keeps state between calls, as `line: what` lines."""
    tree = ast.parse(source)
    module_names = _module_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global | ast.Nonlocal):
            found.append(f"{node.lineno}: {type(node).__name__.lower()} {', '.join(node.names)}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = called.attr if isinstance(called, ast.Attribute) else _name_of(called)
                if name in CACHES:
                    found.append(f"{node.lineno}: @{name} on {node.name}")
            for inner in ast.walk(node):
                writes: list[ast.expr] = []
                if isinstance(inner, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
                    targets = (
                        inner.targets
                        if isinstance(inner, ast.Assign | ast.Delete)
                        else [inner.target]
                    )
                    writes = [t for t in targets if isinstance(t, ast.Subscript | ast.Attribute)]
                elif (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr in MUTATORS
                ):
                    writes = [inner.func.value]
                for write in writes:
                    name = _name_of(write)
                    if name in module_names:
                        found.append(f"{inner.lineno}: {node.name} changes module-level {name}")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_keeps_state_between_calls(path: Path) -> None:
    assert state_kept(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("import functools\n@functools.lru_cache(maxsize=8)\ndef f(x): return x\n", "@lru_cache"),
        ("from functools import cache\n@cache\ndef f(): return 1\n", "@cache"),
        ("_SEEN = {}\ndef f(k, v):\n    _SEEN[k] = v\n", "changes module-level _SEEN"),
        ("_SEEN = []\ndef f(v):\n    _SEEN.append(v)\n", "changes module-level _SEEN"),
        ("_N = 0\ndef f():\n    global _N\n    _N += 1\n", "global _N"),
    ],
)
def test_the_reading_finds_each_way_of_keeping_state(source: str, what: str) -> None:
    assert any(what in line for line in state_kept(source))


def test_a_local_container_or_a_constant_read_is_no_state() -> None:
    source = (
        "LIMITS = {'a': 1}\ndef f(k):\n    seen = {}\n    seen[k] = LIMITS[k]\n    return seen\n"
    )
    assert state_kept(source) == []
