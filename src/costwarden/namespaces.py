"""Namespace labels read from files: the one reader `check` and `serve` share.

In a cluster the `kube` adapter watches the real namespaces; without one (CI gates,
`serve --namespace-labels-file`, the demo, tests) their labels come from files, in either
of two shapes, mixed freely across files and documents:

- a plain map, `{namespace: {label: value}}`::

      ml-dev: {cost-centre: RnD-1001, team: vision, env: dev}

- Namespace objects, or a `List` of them: what `kubectl get namespaces -o yaml` prints.

`from_list` reads the items of a namespace list the API server sent (`check --from-cluster`).

Every problem names the file, line, document and path; all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from costwarden.documents import Document, InvalidInput, PathPart, Problem, read_files

Labels = Mapping[str, Mapping[str, str]]
"""Namespace name -> its labels."""


def load(files: Sequence[Path | str]) -> Labels:
    """Every namespace's labels in these files (`-` is stdin); raises `InvalidInput`
    listing every problem."""
    return from_documents(read_files(files))


def from_documents(documents: Iterable[Document]) -> Labels:
    """Every namespace's labels in documents already read; later ones win."""
    labels: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for document in documents:
        data = document.data
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if not isinstance(data, Mapping):
            problems.append(document.problem("expected a map of namespace -> labels"))
        elif isinstance(kind, str) and kind.endswith("List"):
            items = data.get("items")
            if not isinstance(items, list):
                problems.append(document.problem("expected a list of Namespaces", ("items",)))
                continue
            for i, item in enumerate(items):
                _collect(labels, problems, document, item, ("items", i))
        elif kind == "Namespace":
            _collect(labels, problems, document, data, ())
        else:
            for name, values in data.items():
                path = (str(name),)
                if _valid(values, document, path, problems):
                    labels[str(name)] = dict(values)
    if problems:
        raise InvalidInput(problems)
    return labels


def from_list(items: Iterable[Any], *, source: str) -> Labels:
    """Every namespace's labels in the `items` of a namespace list as the API server sends
    it (`kubectl get namespaces -o json`: items without `kind`); raises `InvalidInput`
    naming `source` and the item for one without a name or with labels not strings."""
    listed = [
        {"kind": "Namespace", **item} if isinstance(item, Mapping) else item for item in items
    ]
    document = Document(source=source, index=0, data={"kind": "NamespaceList", "items": listed})
    return from_documents([document])


def of_namespace(
    obj: Mapping[str, Any], *, document: Document, path: Sequence[PathPart] = ()
) -> tuple[str, dict[str, str]]:
    """The name and labels of one Namespace object found at `path` in `document`; raises
    `InvalidInput` naming the place when it has no name or its labels are not strings."""
    labels: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    _collect(labels, problems, document, obj, tuple(path))
    if problems:
        raise InvalidInput(problems)
    ((name, values),) = labels.items()
    return name, values


def _collect(
    labels: dict[str, dict[str, str]],
    problems: list[Problem],
    document: Document,
    obj: Any,
    path: tuple[PathPart, ...],
) -> None:
    if not isinstance(obj, Mapping) or obj.get("kind") != "Namespace":
        problems.append(document.problem("expected a Namespace object", path))
        return
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(metadata, Mapping) or not isinstance(name, str):
        problems.append(document.problem("a Namespace needs metadata.name", path))
        return
    values = metadata.get("labels") or {}
    if _valid(values, document, (*path, "metadata", "labels"), problems):
        labels[name] = dict(values)


def _valid(
    values: Any, document: Document, path: tuple[PathPart, ...], problems: list[Problem]
) -> bool:
    if isinstance(values, Mapping) and all(
        isinstance(key, str) and isinstance(value, str) for key, value in values.items()
    ):
        return True
    message = 'labels must be a map of strings to strings (quote values like "true" and "1")'
    problems.append(document.problem(message, path))
    return False
