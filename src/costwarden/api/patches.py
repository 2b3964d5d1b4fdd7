"""RFC 6902 JSON Patch, as far as the mutating webhook needs it.

The API server applies the patch we return (base64 of the JSON array, `patchType:
JSONPatch`). Paths are RFC 6901 pointers, so a label key such as `costwarden.io/team`
is escaped `~` -> `~0` then `/` -> `~1` (in that order, or `~1` written by the first
step would be re-read). An `add` to a member of a missing object fails the whole patch,
so a missing `metadata.labels` or `metadata.annotations` is created with its first value.

`apply` (in `engine.patching`, re-exported) shows the object as the API server will see it
after our patch.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

# One RFC 6901 escape and one patch applier, shared with the engine: re-exported.
from costwarden import workloads
from costwarden.engine.patching import PatchError as PatchError
from costwarden.engine.patching import apply as apply
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
    if not isinstance(metadata, workloads.JSON_OBJECT):
        return [PatchOperation("add", "/metadata", {field: dict(values)})]
    current = metadata.get(field)
    if not isinstance(current, workloads.JSON_OBJECT):
        return [PatchOperation("add", f"/metadata/{field}", dict(values))]
    operations = []
    for key, value in values.items():
        if current.get(key) == value:
            continue
        path = f"/metadata/{field}/{escape(key)}"
        operations.append(PatchOperation("replace" if key in current else "add", path, value))
    return operations
