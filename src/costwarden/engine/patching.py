"""Building RFC 6902 JSONPatch operations against the request object.

Paths are RFC 6901 pointers: `~` is written `~0` and `/` is written `~1` inside a key
(`/metadata/labels/cost-centre`, `/spec/nodeSelector/karpenter.sh~1capacity-type`). A
patch for a workload's pods is prefixed with the pod template's pointer
(`/spec/template`, `/spec/jobTemplate/spec/template`) so the same rule repairs a Pod and a
Deployment alike. Adding a key to a map that may not exist first adds the map.

`apply` implements `add`, `replace`, `remove` and `test` on plain JSON data, enough to see
the object as the API server will after a patch (the repaired pod is what gets estimated
and annotated). It never mutates its input.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from costwarden.engine.verdicts import PatchOperation


def escape(key: str) -> str:
    """One reference token of an RFC 6901 pointer (`~` first, or the `~1` it writes
    would be read back as `~` + `1`)."""
    return key.replace("~", "~0").replace("/", "~1")


class PatchError(ValueError):
    """A patch that does not apply to the object (a bug in whoever built it)."""


def unescape(token: str) -> str:
    """The inverse of `escape` (`~1` -> `/` first, then `~0` -> `~`)."""
    return token.replace("~1", "/").replace("~0", "~")


def set_keys(
    container: Mapping[str, Any] | None, pointer: str, values: Mapping[str, str]
) -> list[PatchOperation]:
    """Operations setting `values` into the map at `pointer` (creating the map if absent)."""
    if not values:
        return []
    if container is None:
        return [PatchOperation("add", pointer, dict(values))]
    return [
        PatchOperation("replace" if key in container else "add", f"{pointer}/{escape(key)}", value)
        for key, value in values.items()
    ]


def apply(obj: Mapping[str, Any], operations: Iterable[PatchOperation]) -> dict[str, Any]:
    """The object after the operations, as the API server would compute it.

    Copy-on-write: only the containers on each operation's path are copied, everything
    else is shared with `obj` (a pod's managedFields alone can be kilobytes; a deep copy
    per review would cost more than evaluating it).
    """
    result: dict[str, Any] = dict(obj)
    for op in operations:
        if not op.path.startswith("/"):
            raise PatchError(f"{op.op} {op.path!r}: a pointer starts with '/'")
        parent_path, _, last = op.path.rpartition("/")
        parent = _writable(result, parent_path)
        key = unescape(last)
        if isinstance(parent, dict):
            _apply_to_object(parent, key, op)
        elif isinstance(parent, list):
            _apply_to_array(parent, key, op)
        else:
            raise PatchError(f"{op.op} {op.path!r}: parent is not an object or array")
    return result


def _writable(document: dict[str, Any], pointer: str) -> Any:
    """The container at `pointer`, copied (with every container above it) if shared."""
    node: Any = document
    for token in pointer[1:].split("/") if pointer else ():
        key: Any = unescape(token)
        if isinstance(node, dict) and key in node:
            pass
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            key = int(key)
        else:
            raise PatchError(f"{pointer!r}: no such location")
        child = node[key]
        if isinstance(child, dict | list):
            child = copy.copy(child)  # one level: deeper levels are copied as they are reached
            node[key] = child
        node = child
    return node


def _apply_to_object(parent: dict[str, Any], key: str, op: PatchOperation) -> None:
    if op.op == "add":
        parent[key] = copy.deepcopy(op.value)
    elif key not in parent:
        raise PatchError(f"{op.op} {op.path!r}: no such member")
    elif op.op == "replace":
        parent[key] = copy.deepcopy(op.value)
    elif op.op == "remove":
        del parent[key]
    elif parent[key] != op.value:
        raise PatchError(f"test {op.path!r}: value differs")


def _apply_to_array(parent: list[Any], key: str, op: PatchOperation) -> None:
    if key == "-" and op.op == "add":
        parent.append(copy.deepcopy(op.value))
        return
    if not key.isdigit() or int(key) > len(parent) or (op.op != "add" and int(key) >= len(parent)):
        raise PatchError(f"{op.op} {op.path!r}: index out of range")
    index = int(key)
    if op.op == "add":
        parent.insert(index, copy.deepcopy(op.value))
    elif op.op == "replace":
        parent[index] = copy.deepcopy(op.value)
    elif op.op == "remove":
        del parent[index]
    elif parent[index] != op.value:
        raise PatchError(f"test {op.path!r}: value differs")
