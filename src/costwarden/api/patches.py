"""RFC 6902 JSON Patch, as far as the mutating webhook needs it.

The API server applies the patch we return (base64 of the JSON array, `patchType:
JSONPatch`). Paths are RFC 6901 pointers, so a label key such as `costwarden.io/team`
is escaped `~` -> `~0` then `/` -> `~1` (in that order, or `~1` written by the first
step would be re-read). An `add` to a member of a missing object fails the whole patch,
so a missing `metadata.labels` or `metadata.annotations` is created with its first value.

`apply` implements `add`, `replace`, `remove` and `test` on plain JSON data, enough to see
the object as the API server will after our patch (the engine's Spot placement, then our
annotations computed on the result). It never mutates its input.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from costwarden.engine.patching import escape as escape  # one RFC 6901 escape, re-exported
from costwarden.engine.verdicts import PatchOperation


class PatchError(ValueError):
    """A patch that does not apply to the object (a bug in whoever built it)."""


def unescape(token: str) -> str:
    """The inverse of `escape` (`~1` -> `/` first, then `~0` -> `~`)."""
    return token.replace("~1", "/").replace("~0", "~")


def encode(operations: Sequence[PatchOperation]) -> str:
    """The base64 JSON array the AdmissionResponse carries."""
    document = [_as_json(op) for op in operations]
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _as_json(op: PatchOperation) -> dict[str, Any]:
    if op.op == "remove":
        return {"op": op.op, "path": op.path}
    return {"op": op.op, "path": op.path, "value": op.value}


def set_metadata_values(
    obj: Mapping[str, Any], *, field: str, values: Mapping[str, str]
) -> list[PatchOperation]:
    """Operations making `/metadata/<field>` hold `values`; none where it already does.

    `field` is `labels` or `annotations`. Idempotent by construction: run on the patched
    object it returns nothing.
    """
    if not values:
        return []
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return [PatchOperation("add", "/metadata", {field: dict(values)})]
    current = metadata.get(field)
    if not isinstance(current, Mapping):
        return [PatchOperation("add", f"/metadata/{field}", dict(values))]
    operations = []
    for key, value in values.items():
        if current.get(key) == value:
            continue
        path = f"/metadata/{field}/{escape(key)}"
        operations.append(PatchOperation("replace" if key in current else "add", path, value))
    return operations


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
