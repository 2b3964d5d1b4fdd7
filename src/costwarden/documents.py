"""Reading YAML/JSON documents with their positions, and reporting problems in them.

Catalogs, policies and manifests all come from files people edit, so every error must
say where: file, document index, JSON path and line. `read_documents` keeps a map from
each path in a document to the line it starts on; `problems_from_validation` turns a
pydantic `ValidationError` into `Problem`s carrying those positions.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    """One parsed document and where each of its parts came from."""

    source: str
    index: int
    data: Any
    lines: Mapping[tuple[PathPart, ...], int] = field(default_factory=dict, repr=False)

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        key = tuple(path)
        while True:
            line = self.lines.get(key)
            if line is not None or not key:
                return line
            key = key[:-1]

    def problem(self, message: str, path: Sequence[PathPart] = ()) -> Problem:
        return Problem(
            source=self.source,
            message=message,
            document=self.index,
            path=format_path(path),
            line=self.line_of(path),
        )


class _ExactLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Floats become `Decimal` from their text: `0.1` is 0.1, not 0.1000000000000000055."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    return Decimal(text)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _walk(
    node: yaml.Node,
    path: tuple[PathPart, ...],
    lines: dict[tuple[PathPart, ...], int],
    duplicates: list[tuple[tuple[PathPart, ...], int]],
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key == "<<":
                continue
            if key in seen:
                duplicates.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            child = (*path, key)
            _walk(value_node, child, lines, duplicates)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, duplicates)


def read_documents(text: str, *, source: str, exact_numbers: bool = False) -> list[Document]:
    """Every non-empty document in a YAML (or JSON) stream, with line positions.

    `exact_numbers` reads floats as `Decimal` (catalog prices, policy caps). Raises
    `InvalidInput` for a syntax error or a duplicated mapping key, naming the line.
    """
    loader_class = _ExactLoader if exact_numbers else _BaseLoader
    loader = loader_class(text)
    documents: list[Document] = []
    problems: list[Problem] = []
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            lines: dict[tuple[PathPart, ...], int] = {}
            duplicates: list[tuple[tuple[PathPart, ...], int]] = []
            _walk(node, (), lines, duplicates)
            for dup_path, line in duplicates:
                problems.append(
                    Problem(
                        source=source,
                        message="duplicate key (YAML would silently keep only the last one)",
                        document=index,
                        path=format_path(dup_path),
                        line=line,
                    )
                )
            data = loader.construct_document(node)
            if data is not None:
                documents.append(Document(source=source, index=index, data=data, lines=lines))
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
