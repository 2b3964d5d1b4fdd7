"""RFC 6902 JSON Patch on the wire: what the mutating webhook sends.

The API server applies the patch we return (base64 of the JSON array, `patchType:
JSONPatch`); `engine.patching` computes it, once, from the desired changes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
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
