"""Reading YAML/JSON documents with their positions, and reporting problems in them.

Catalogs, policies and manifests all come from files people edit, so every error must
say where: file, document index, JSON path and line. `read_documents` keeps each
document's YAML node, where a path's line is looked up when a problem is reported;
`problems_from_validation` turns a pydantic `ValidationError` into `Problem`s carrying
those positions.

Reading is bounded, so that no file can stall a `serve` reload or a CI lint: a file larger
than `MAX_FILE_BYTES` is not read, and a document whose YAML aliases would expand past
`MAX_ALIAS_NODES`, that nests deeper than `MAX_DEPTH`, or whose aliases loop is refused
before it is constructed.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

try:  # libyaml is much faster when present; the pure-Python loader behaves the same.
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

PathPart = str | int
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")

# Bounds what aliases add, not all nodes, so an alias-free `kind: List` of any size is read.
MAX_ALIAS_NODES = 100_000
"""How many nodes YAML aliases (`*name`) may add to one document beyond those written.

PyYAML builds an alias as a shared reference, but pydantic and every walk downstream visit
each repeat: a document whose expansion is larger than the nodes written in it plus this
many is refused before it is constructed.
"""

MAX_DEPTH = 100
"""How deeply collections may nest in one document, counting what aliases bring in.

Kubernetes objects, policies and catalogs nest a dozen or so levels; a deeper document is
refused rather than left to exhaust Python's recursion limit in a later walk.
"""

MAX_FILE_BYTES = 4 * 1024 * 1024
"""The largest file (or stdin) read, in bytes. The bundled catalog is about 30 KB and a
ConfigMap holding policies at most 1 MiB; anything bigger is split into several files."""

_SIZE_CAP = 1 << 62
"""Expanded sizes are counted up to here: enough to compare, never a huge integer."""


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


def _construct_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


# Dates stay the text they are, as Kubernetes reads YAML (sigs.k8s.io/yaml: YAML to JSON):
# an unquoted `2026-12-31` annotation is the string kubectl sends, and a date field parses
# its text where the model says so — `2026-02-30` is then a problem naming its line, not a
# ValueError out of the YAML library.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)


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


_Part = tuple[PathPart | None, yaml.Node | None, yaml.Node]
"""(path part, key node, node) of a node under another; a mapping key's part is None."""


def _parts(node: yaml.Node) -> list[_Part]:
    """The nodes under `node`, mapping keys included (they are constructed too)."""
    if isinstance(node, yaml.MappingNode):
        parts: list[_Part] = []
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            parts.append((None, None, key_node))
            parts.append((key, key_node, value_node))
        return parts
    if isinstance(node, yaml.SequenceNode):
        return [(i, None, item) for i, item in enumerate(node.value)]
    return []


def _line(parent: yaml.Node, key_node: yaml.Node | None, node: yaml.Node) -> int:
    """The line where `node` is written under `parent`: its key's, its own, or (when it is
    an alias, whose node was written at its anchor) its parent's."""
    if key_node is not None:
        return int(key_node.start_mark.line) + 1
    start, end = parent.start_mark.index, parent.end_mark.index
    if start < node.start_mark.index and node.end_mark.index <= end:
        return int(node.start_mark.line) + 1
    return int(parent.start_mark.line) + 1


def _descend(
    root: yaml.Node, choose: Callable[[int, list[_Part]], _Part | None]
) -> tuple[list[PathPart], int]:
    """The path and line reached going down from `root`, `choose(step, parts)` picking
    each step's node, until it picks none or a mapping key (which no path can name)."""
    path: list[PathPart] = []
    node, line = root, int(root.start_mark.line) + 1
    for step in itertools.count():
        chosen = choose(step, _parts(node))
        if chosen is None:
            break
        part, key_node, child = chosen
        if part is None:  # pragma: no cover - a complex mapping key, unlike any real document
            break
        path.append(part)
        line, node = _line(node, key_node, child), child
    return path, line


@dataclass(slots=True)
class _Shape:
    """A document as if its aliases were expanded: per collection (by id), how many nodes
    and how many levels of collections; how many nodes are written; and any loop."""

    sizes: dict[int, int] = field(default_factory=dict)
    depths: dict[int, int] = field(default_factory=dict)
    written: int = 0
    """Collections, and scalars in each (an alias to a scalar counts, as it is written)."""
    loop: list[yaml.Node] = field(default_factory=list)
    """The collections from the root down to an alias to one of them, then that one."""

    def size(self, node: yaml.Node) -> int:
        return self.sizes.get(id(node), 1)

    def depth(self, node: yaml.Node) -> int:
        return self.depths.get(id(node), 0)


def _measure(root: yaml.Node) -> _Shape:
    """The `_Shape` of `root`, linear in the distinct nodes: each collection is measured
    once (a depth-first walk with its own stack, never recursion), however many aliases
    refer to it. Hot for every file read, so written for speed."""
    shape = _Shape()
    sizes, depths = shape.sizes, shape.depths
    entered: set[int] = set()  # entered and not measured: the collections on the way down
    stack = [root] if isinstance(root, yaml.CollectionNode) else []
    while stack:
        node = stack[-1]
        key = id(node)
        if key in sizes:  # a second reference, measured meanwhile
            stack.pop()
            continue
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = [child for pair in node.value for child in pair]
        if key not in entered:  # first time on top: measure its collections first
            entered.add(key)
            for child in children:
                if isinstance(child, yaml.CollectionNode) and id(child) not in sizes:
                    if id(child) in entered:
                        shape.loop = [*_way_down(stack, entered, sizes), child]
                        return shape
                    stack.append(child)
            continue
        size, depth = 1, 0
        for child in children:
            if isinstance(child, yaml.CollectionNode):
                size += sizes[id(child)]
                depth = max(depth, depths[id(child)])
            else:
                size += 1
                shape.written += 1
        sizes[key] = min(size, _SIZE_CAP)
        depths[key] = depth + 1
        shape.written += 1
        stack.pop()
    return shape


def _way_down(
    stack: Sequence[yaml.Node], entered: set[int], sizes: dict[int, int]
) -> list[yaml.Node]:
    """The collections `_measure` is inside of, root first: those entered and not measured,
    each at its topmost place on the stack (lower copies are waiting to be skipped)."""
    way: list[yaml.Node] = []
    seen: set[int] = set()
    for node in reversed(stack):
        if id(node) in entered and id(node) not in sizes and id(node) not in seen:
            seen.add(id(node))
            way.append(node)
    return way[::-1]


def _shape_problem(root: yaml.Node, *, source: str, index: int) -> Problem | None:
    """Why `root` must not be constructed (aliases that loop or explode, nesting too
    deep), or None; the path and line are of the place to look at."""
    shape = _measure(root)
    if shape.loop:
        loop = shape.loop
        path, line = _descend(
            root,
            lambda step, parts: (
                next(part for part in parts if part[2] is loop[step + 1])
                if step + 1 < len(loop)
                else None
            ),
        )
        message = (
            "a YAML alias (*name) refers to a value that holds it, so it never ends: "
            "write the values out"
        )
    elif shape.depth(root) > MAX_DEPTH:  # down the deepest branch to the collection past it
        path, line = _descend(
            root,
            lambda step, parts: (
                max(parts, key=lambda part: shape.depth(part[2])) if step < MAX_DEPTH else None
            ),
        )
        message = (
            f"nested more than {MAX_DEPTH} levels deep (counting what YAML aliases bring "
            "in): no policy, catalog or Kubernetes object needs that"
        )
    elif shape.size(root) > (bound := shape.written + MAX_ALIAS_NODES):
        # Down to the smallest value that is too big on its own.
        path, line = _descend(
            root,
            lambda step, parts: next((p for p in parts if shape.size(p[2]) > bound), None),
        )
        message = (
            f"YAML aliases (*name) expand this to more than {MAX_ALIAS_NODES} nodes beyond "
            "those written (an alias bomb?): write the values out"
        )
    else:
        return None
    return Problem(
        source=source, message=message, document=index, path=format_path(path), line=line
    )


def read_documents(text: str, *, source: str, exact_numbers: bool = False) -> list[Document]:
    """Every non-empty document in a YAML (or JSON) stream, with line positions.

    `exact_numbers` reads floats as `Decimal` (catalog prices, policy caps). Raises
    `InvalidInput` for a syntax error, a duplicated mapping key, aliases that expand past
    `MAX_ALIAS_NODES` or loop, or nesting deeper than `MAX_DEPTH`, naming the line.
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
            refused = _shape_problem(node, source=source, index=index)
            if refused is not None:
                problems.append(refused)
                index += 1
                continue
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
    except RecursionError:  # pragma: no cover - the pure-Python composer recurses; libyaml
        # stops at 1000 levels with a YAMLError, and what it composes is measured above
        problems.append(
            Problem(
                source=source,
                message=f"nested more than {MAX_DEPTH} levels deep: no policy, catalog or "
                "Kubernetes object needs that",
                document=index,
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
            text = _read_text(file)
        except _TooLarge as exc:
            limit = f"{MAX_FILE_BYTES / 2**20:g} MiB"
            message = f"cannot read file: larger than {limit} ({exc}): split it into smaller files"
            problems.append(Problem(source=source, message=message))
            continue
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


class _TooLarge(Exception):
    """A file over `MAX_FILE_BYTES`; the message says how large, as far as is known."""


def _read_text(file: Path | str) -> str:
    """The text of `file` (`-` is stdin), never more than `MAX_FILE_BYTES` + 1 characters
    of it read; raises `_TooLarge` for a larger one."""
    if file == "-":
        return _read_at_most(sys.stdin)
    path = Path(file)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:  # refused unread
        raise _TooLarge(f"{size:,} bytes")
    with path.open(encoding="utf-8") as stream:  # a pipe, say, has no size to stat
        return _read_at_most(stream)


def _read_at_most(stream: TextIO) -> str:
    text = stream.read(MAX_FILE_BYTES + 1)
    # Characters are counted first: most too-long streams are caught without encoding them.
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _TooLarge("stopped reading there")
    return text


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
