"""The bounds on what is read: YAML aliases, nesting depth, file size (#20).

Every refusal is a positioned `Problem`, like any other mistake in a file, never a
traceback or a reader that runs for minutes.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from costwarden import documents
from costwarden.cli import main

# The classic "billion laughs": nine levels of nine aliases, 10**9 nodes once expanded.
LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
]
ALIAS_BOMB = "\n".join(LAUGHS) + "\n"
ALIAS_MESSAGE = (
    f"YAML aliases (*name) expand this to more than {documents.MAX_ALIAS_NODES} nodes beyond "
    "those written (an alias bomb?): write the values out"
)


def refusal(text: str, source: str = "f.yaml") -> documents.Problem:
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_documents(text, source=source)
    (problem,) = caught.value.problems
    return problem


def test_an_alias_bomb_is_refused_naming_the_file_and_line() -> None:
    problem = refusal(ALIAS_BOMB, source="laughs.yaml")
    # `f` is the first value too big on its own: nine copies of `e`, 66,430 nodes each.
    assert (problem.source, problem.document, problem.path, problem.line) == (
        "laughs.yaml",
        0,
        "f",
        6,
    )
    assert problem.message == ALIAS_MESSAGE
    assert str(problem) == f"laughs.yaml:6: document 0: f: {ALIAS_MESSAGE}"


def test_an_alias_bomb_in_a_later_document_is_refused_with_that_documents_index() -> None:
    text = "kind: A\n---\n" + ALIAS_BOMB + "---\nkind: B\n"
    problem = refusal(text)
    assert (problem.document, problem.line) == (1, 8)


def test_an_anchor_reused_a_few_times_still_loads() -> None:
    text = (
        "defaults: &defaults {cpu: '1', memory: 1Gi}\n"
        "small: *defaults\n"
        "large:\n"
        "  <<: *defaults\n"
        "  cpu: '4'\n"
    )
    (doc,) = documents.read_documents(text, source="f.yaml")
    assert doc.data == {
        "defaults": {"cpu": "1", "memory": "1Gi"},
        "small": {"cpu": "1", "memory": "1Gi"},
        "large": {"cpu": "4", "memory": "1Gi"},
    }


def test_a_large_document_without_aliases_is_not_taken_for_a_bomb() -> None:
    count = documents.MAX_ALIAS_NODES + 1000
    text = "items: [" + ",".join(["1"] * count) + "]\n"
    (doc,) = documents.read_documents(text, source="list.yaml")
    assert len(doc.data["items"]) == count


def test_an_alias_inside_the_value_it_names_is_refused_as_a_loop() -> None:
    problem = refusal("spec:\n  a: &a\n    x: 1\n    again: *a\n")
    assert (problem.path, problem.line) == ("spec.a.again", 4)
    assert "refers to a value that holds it" in problem.message


def test_a_document_nested_deeper_than_the_bound_is_a_problem_not_a_recursion_error() -> None:
    depth = documents.MAX_DEPTH
    (doc,) = documents.read_documents("[" * depth + "]" * depth, source="f.yaml")
    assert doc.data is not None
    text = "".join("  " * level + f"k{level}:\n" for level in range(depth + 20))
    problem = refusal(text)
    # The document is the first mapping; the one past the bound is k99's value, on k99's line.
    assert (problem.document, problem.line) == (0, depth)
    assert problem.path.endswith(f".k{depth - 1}")
    assert problem.message.startswith(f"nested more than {depth} levels deep")


def test_nesting_built_from_aliases_counts_toward_the_depth_bound() -> None:
    lines = ["a0: &a0 [1]"] + [
        f"a{level}: &a{level} [*a{level - 1}]" for level in range(1, documents.MAX_DEPTH + 1)
    ]
    problem = refusal("\n".join(lines) + "\n")
    assert problem.path.startswith(f"a{documents.MAX_DEPTH}[0][0]")
    assert problem.message.startswith(f"nested more than {documents.MAX_DEPTH} levels deep")


def test_a_file_larger_than_the_bound_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as stream:  # sparse: size without content
        stream.truncate(documents.MAX_FILE_BYTES + 1)
    (tmp_path / "small.yaml").write_text("kind: A\n")
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_files([tmp_path])
    (problem,) = caught.value.problems
    assert problem.source == str(big)
    assert problem.message == (
        f"cannot read file: larger than 4 MiB ({documents.MAX_FILE_BYTES + 1:,} bytes): "
        "split it into smaller files"
    )


@pytest.mark.parametrize(
    "text",
    [
        "# " + "x" * documents.MAX_FILE_BYTES,
        "# " + "é" * (documents.MAX_FILE_BYTES // 2),  # few enough characters, too many bytes
    ],
    ids=["ascii", "two-byte characters"],
)
def test_stdin_larger_than_the_bound_is_refused(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_files(["-"])
    (problem,) = caught.value.problems
    assert problem.source == "<stdin>"
    assert problem.message.startswith("cannot read file: larger than 4 MiB (")


def test_stdin_within_the_bound_is_read(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("kind: A\n"))
    (doc,) = documents.read_files(["-"])
    assert doc.data == {"kind": "A"}


def test_lint_reports_an_alias_bomb_in_policies_and_exits_non_zero_without_a_traceback(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "laughs.yaml").write_text(ALIAS_BOMB)
    status = main(["lint", "--policies", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status != 0
    assert f"{tmp_path / 'laughs.yaml'}:6: document 0: f: {ALIAS_MESSAGE}" in out.splitlines()
    assert "Traceback" not in out + err
