"""RFC 6902 JSON Patch on the wire: what the mutating webhook sends, and an applier.

The API server applies the patch we return (base64 of the JSON array, `patchType:
JSONPatch`); `engine.patching` computes it, once, from the desired changes.

`apply` applies a JSONPatch the way the API server does (`add`, `replace`, `remove`,
`test` on plain JSON data). The webhook never needs it: `serve --demo` does, to send
/validate the object /mutate's answer makes, as the API server would.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

# One RFC 6901 escape, shared with the engine: re-exported.
from costwarden.engine.patching import escape as escape
from costwarden.engine.patching import unescape as unescape
from costwarden.engine.verdicts import PatchOperation


def encode(operations: Sequence[PatchOperation]) -> str:
    """The base64 JSON array the AdmissionResponse carries."""
    document = [_as_json(op) for op in operations]
    return base64.b64encode(orjson.dumps(document)).decode()


def _as_json(op: PatchOperation) -> dict[str, Any]:
    if op.op == "remove":
        return {"op": op.op, "path": op.path}
    return {"op": op.op, "path": op.path, "value": op.value}


class PatchError(ValueError):
    """A patch that does not apply to the object (a bug in whoever built it)."""


def apply(obj: Mapping[str, Any], operations: Iterable[PatchOperation]) -> dict[str, Any]:
    """The object after the operations, as the API server would compute it (`obj` is left
    as it is)."""
    result: dict[str, Any] = copy.deepcopy(dict(obj))
    for op in operations:
        if not op.path.startswith("/"):
            raise PatchError(f"{op.op} {op.path!r}: a pointer starts with '/'")
        parent_path, _, last = op.path.rpartition("/")
        _apply_in(_located(result, parent_path), unescape(last), op)
    return result


def _located(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for token in pointer[1:].split("/") if pointer else ():
        key = unescape(token)
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise PatchError(f"{pointer!r}: no such location")
    return node


def _apply_in(parent: Any, token: str, op: PatchOperation) -> None:
    """`op` on the member or item `token` of `parent`."""
    key: Any = token
    if isinstance(parent, list):
        adding = op.op == "add"
        if token == "-" and adding:
            key = len(parent)
        elif token.isdigit() and int(token) < len(parent) + adding:
            key = int(token)
        else:
            raise PatchError(f"{op.op} {op.path!r}: index out of range")
        if adding:
            parent.insert(key, copy.deepcopy(op.value))
            return
    elif not isinstance(parent, dict):
        raise PatchError(f"{op.op} {op.path!r}: parent is not an object or array")
    elif op.op == "add":
        parent[key] = copy.deepcopy(op.value)
        return
    elif key not in parent:
        raise PatchError(f"{op.op} {op.path!r}: no such member")
    if op.op == "replace":
        parent[key] = copy.deepcopy(op.value)
    elif op.op == "remove":
        del parent[key]
    elif parent[key] != op.value:
        raise PatchError(f"test {op.path!r}: value differs")
