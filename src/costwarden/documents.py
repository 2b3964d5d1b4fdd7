"""Reading YAML/JSON documents with their positions, and reporting problems in them.

Catalogs, policies and manifests all come from files people edit, so every error must
say where: file, document index, JSON path and line. `read_documents` keeps each
document's YAML node, where a path's line is looked up when a problem is reported;
`problems_from_validation` turns a pydantic `ValidationError` into `Problem`s carrying
those positions.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

try:  # libyaml is much faster when present; the pure-Python loader behaves the same.
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

PathPart = str | int
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, and exactly where."""

    source: str
    """File name, or `<stdin>`."""
    message: str
    document: int | None = None
    """0-based index of the document in a multi-document file."""
    path: str = ""
    """JSON path inside the document, e.g. `spec.instanceTypes[3].onDemandHourly`."""
    line: int | None = None
    """1-based line in the file."""

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [where]
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.path:
            parts.append(self.path)
        return f"{': '.join(parts)}: {self.message}"


class InvalidInput(Exception):
    """Input with one or more problems; the message lists all of them."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def format_path(path: Sequence[PathPart]) -> str:
    """`("spec", "rules", 2, "match")` -> `spec.rules[2].match`.

    A key that a dot-joined path would make ambiguous (it holds `.`, `[` or `]`, or is
    empty) is written as a quoted index: `requests["nvidia.com/gpu"]`, not
    `requests.nvidia.com/gpu`.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part or "." in part or "[" in part or "]" in part:
            text += f"[{json.dumps(part)}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document and the YAML node it came from (for positions)."""

    source: str
    index: int
    data: Any
    node: yaml.Node | None = field(default=None, repr=False, compare=False)
    """The composed YAML node, or None for a document made in code."""

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one (found by following
        the path down the YAML nodes: positions are only looked up when reporting)."""
        node = self.node
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            line = (key_node or node).start_mark.line + 1
        return line

    def problem(self, message: str, path: Sequence[PathPart] = ()) -> Problem:
        return Problem(
            source=self.source,
            message=message,
            document=self.index,
            path=format_path(path),
            line=self.line_of(path),
        )


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Notes whether any mapping repeats a key (YAML would silently keep the last one)."""

    repeats_a_key = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
        if len(set(keys)) != len(keys):
            self.repeats_a_key = True
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class _ExactLoader(_Loader):
    """Floats become `Decimal` from their text: `0.1` is 0.1, not 0.1000000000000000055."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    return Decimal(text)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _child(node: yaml.Node, part: PathPart) -> tuple[yaml.Node | None, yaml.Node] | None:
    """The (key node, value node) of `part` under `node`, or None."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):  # the last of repeated keys wins
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return key_node, value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        items = node.value
        return (None, items[part]) if 0 <= part < len(items) else None
    return None


def _repeated_keys(
    node: yaml.Node, path: tuple[PathPart, ...] = ()
) -> Iterator[tuple[tuple[PathPart, ...], int]]:
    """(path, line) of every key a mapping repeats, anywhere under `node`."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key == "<<":
                continue
            if key in seen:
                yield (*path, key), key_node.start_mark.line + 1
            seen.add(key)
            yield from _repeated_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _repeated_keys(item, (*path, i))


def read_documents(text: str, *, source: str, exact_numbers: bool = False) -> list[Document]:
    """Every non-empty document in a YAML (or JSON) stream, with line positions.

    `exact_numbers` reads floats as `Decimal` (catalog prices, policy caps). Raises
    `InvalidInput` for a syntax error or a duplicated mapping key, naming the line.
    """
    loader = (_ExactLoader if exact_numbers else _Loader)(text)
    documents: list[Document] = []
    problems: list[Problem] = []
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            loader.repeats_a_key = False
            data = loader.construct_document(node)
            if loader.repeats_a_key:
                problems.extend(
                    Problem(
                        source=source,
                        message="duplicate key (YAML would silently keep only the last one)",
                        document=index,
                        path=format_path(path),
                        line=line,
                    )
                    for path, line in _repeated_keys(node)
                )
            if data is not None:
                documents.append(Document(source=source, index=index, data=data, node=node))
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        error_line: int | None = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(
            Problem(
                source=source, message=f"not valid YAML: {reason}", document=index, line=error_line
            )
        )
    finally:
        loader.dispose()
    if problems:
        raise InvalidInput(problems)
    return documents


def iter_files(paths: Iterable[Path | str]) -> Iterator[Path | str]:
    """Files named, and the YAML/JSON files under directories named (sorted); `-` is stdin.

    Hidden entries (a leading `.`) are skipped: a mounted ConfigMap keeps its real files in
    `..<timestamp>/` directories behind the `..data` symlink, and reading them as well
    would load every policy twice.
    """
    for entry in paths:
        if str(entry) == "-":
            yield "-"
            continue
        path = Path(entry)
        if not path.is_dir():
            yield path
            continue
        found: list[Path] = []
        for directory, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            found.extend(
                Path(directory, name)
                for name in filenames
                if not name.startswith(".") and name.endswith(DOCUMENT_SUFFIXES)
            )
        yield from sorted(found)


def read_files(paths: Iterable[Path | str], *, exact_numbers: bool = False) -> list[Document]:
    """All documents of all files (see `iter_files`); every unreadable file is a Problem."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for file in iter_files(paths):
        source = "<stdin>" if file == "-" else str(file)
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Problem(source=source, message=f"cannot read file: {reason}"))
            continue
        try:
            documents.extend(read_documents(text, source=source, exact_numbers=exact_numbers))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    return documents


def problems_from_validation(
    error: ValidationError, document: Document, *, base: Sequence[PathPart] = ()
) -> list[Problem]:
    """One Problem per pydantic error, positioned in the document.

    `loc` entries use the models' aliases (camelCase, as written in the file) when the
    models validate by alias, so the path reads like the YAML.
    """
    problems = []
    for item in error.errors(include_url=False):
        # A tagged union's tag (written `<tag>`, as `policies.models.Rule` does) is no place
        # in the document: pydantic puts it into the location all the same.
        loc = tuple(
            part
            for part in item["loc"]
            if isinstance(part, int) or (isinstance(part, str) and not _is_tag(part))
        )
        path = (*base, *loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling and indentation)"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(document.problem(message, path))
    return problems


def _is_tag(part: str) -> bool:
    return part.startswith("<") and part.endswith(">")
