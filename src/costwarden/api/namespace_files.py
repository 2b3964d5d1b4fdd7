"""Namespace labels from files, for running without a cluster (demo, tests, CI gates).

Two shapes are accepted, mixed freely across files and documents:

- a plain map, `{namespace: {label: value}}`::

      ml-dev: {cost-centre: RnD-1001, team: vision, env: dev}

- Namespace objects, or a `List` of them: what `kubectl get namespaces -o yaml` prints.

In a cluster the `kube` adapter watches the real namespaces instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from costwarden.api.reloading import Reloadable
from costwarden.documents import Document, InvalidInput, Problem, read_files

Labels = Mapping[str, Mapping[str, str]]


def load(files: Sequence[Path]) -> Labels:
    """Every namespace's labels; raises `InvalidInput` listing every problem."""
    labels: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for document in read_files(files):
        data = document.data
        if isinstance(data, Mapping) and data.get("kind") == "List":
            items = data.get("items")
            for i, item in enumerate(items if isinstance(items, list) else []):
                _namespace_object(document, item, ("items", i), labels, problems)
        elif isinstance(data, Mapping) and data.get("kind") == "Namespace":
            _namespace_object(document, data, (), labels, problems)
        elif isinstance(data, Mapping):
            for name, values in data.items():
                _add(document, str(name), values, (str(name),), labels, problems)
        else:
            problems.append(document.problem("expected a map of namespace -> labels"))
    if problems:
        raise InvalidInput(problems)
    return labels


def _namespace_object(
    document: Document,
    obj: Any,
    path: tuple[str | int, ...],
    labels: dict[str, dict[str, str]],
    problems: list[Problem],
) -> None:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str):
        problems.append(document.problem("a Namespace needs metadata.name", path))
        return
    values = metadata.get("labels") or {}  # type: ignore[union-attr]
    _add(document, name, values, (*path, "metadata", "labels"), labels, problems)


def _add(
    document: Document,
    name: str,
    values: Any,
    path: tuple[str | int, ...],
    labels: dict[str, dict[str, str]],
    problems: list[Problem],
) -> None:
    if not isinstance(values, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        problems.append(document.problem("labels must be a map of strings to strings", path))
        return
    labels[name] = dict(values)


class FileNamespaceLabels:
    """The `NamespaceLabels` port over reloaded files."""

    def __init__(self, files: Reloadable[Labels]) -> None:
        self.files = files

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return self.files.current.get(namespace)

    def ready(self) -> bool:
        return True  # loaded in the constructor of `files`, or it raised
