"""The namespace-label reader: plain maps, Namespace objects and Lists of them, and every
problem named with its file, line and path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from costwarden import documents, namespaces

NOT_STRINGS = 'labels must be a map of strings to strings (quote values like "true" and "1")'


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(files: list[Path]) -> list[str]:
    with pytest.raises(documents.InvalidInput) as caught:
        namespaces.load(files)
    return [str(problem) for problem in caught.value.problems]


def test_plain_maps_namespace_objects_and_lists_mix_across_files_and_documents(
    tmp_path: Path,
) -> None:
    plain = write(tmp_path, "plain.yaml", "ml-dev: {team: vision}\nempty: {}\n")
    objects = write(
        tmp_path,
        "objects.yaml",
        """\
        apiVersion: v1
        kind: Namespace
        metadata: {name: ml-train, labels: {team: nlp}}
        ---
        apiVersion: v1
        kind: NamespaceList
        items:
        - {apiVersion: v1, kind: Namespace, metadata: {name: bare}}
        - {apiVersion: v1, kind: Namespace, metadata: {name: ml-dev, labels: {team: nlp}}}
        """,
    )
    assert namespaces.load([plain, objects]) == {
        "ml-dev": {"team": "nlp"},  # later files win
        "empty": {},
        "ml-train": {"team": "nlp"},
        "bare": {},
    }


def test_a_directory_is_read_like_its_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "a: {x: '1'}\n")
    write(tmp_path, "b.json", '{"b": {"y": "2"}}\n')
    assert namespaces.load([tmp_path]) == {"a": {"x": "1"}, "b": {"y": "2"}}


def test_every_problem_is_named_with_file_line_and_path(tmp_path: Path) -> None:
    plain = write(tmp_path, "plain.yaml", "ml-dev: {env: dev, gpu: true}\nml-train: [a]\n")
    listed = write(
        tmp_path,
        "list.yaml",
        """\
        kind: List
        items:
        - {kind: Pod, metadata: {name: p}}
        - {kind: Namespace, metadata: {labels: {}}}
        """,
    )
    assert problems_of([plain, listed]) == [
        f"{plain}:1: document 0: ml-dev: {NOT_STRINGS}",
        f"{plain}:2: document 0: ml-train: {NOT_STRINGS}",
        f"{listed}:3: document 0: items[0]: expected a Namespace object",
        f"{listed}:4: document 0: items[1]: a Namespace needs metadata.name",
    ]


def test_a_document_that_is_not_a_map_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "ns.yaml", "- ml-dev\n")
    assert problems_of([path]) == [f"{path}:1: document 0: expected a map of namespace -> labels"]


def test_a_list_without_items_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "ns.yaml", "kind: List\nitems: {}\n")
    assert problems_of([path]) == [f"{path}:2: document 0: items: expected a list of Namespaces"]


def test_one_namespace_object_is_read_where_it_was_found(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "all.yaml",
        """\
        kind: List
        items:
        - {kind: Namespace, metadata: {name: a, labels: {team: x}}}
        - {kind: Namespace, metadata: {name: b, labels: {team: 1}}}
        """,
    )
    (document,) = documents.read_files([path])
    first, second = document.data["items"]
    assert namespaces.of_namespace(first, document=document, path=("items", 0)) == (
        "a",
        {"team": "x"},
    )
    with pytest.raises(documents.InvalidInput) as caught:
        namespaces.of_namespace(second, document=document, path=("items", 1))
    assert str(caught.value) == f"{path}:4: document 0: items[1].metadata.labels: {NOT_STRINGS}"
