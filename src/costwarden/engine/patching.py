"""Building RFC 6902 JSONPatch operations against the request object.

Paths are RFC 6901 pointers: `~` is written `~0` and `/` is written `~1` inside a key
(`/metadata/labels/cost-centre`, `/spec/nodeSelector/karpenter.sh~1capacity-type`). A
patch for a workload's pods is prefixed with the pod template's pointer
(`/spec/template`, `/spec/jobTemplate/spec/template`) so the same rule repairs a Pod and a
Deployment alike. Adding a key to a map that may not exist first adds the map.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from costwarden.engine.verdicts import PatchOperation


def escape(key: str) -> str:
    """One reference token of an RFC 6901 pointer (`~` first, or the `~1` it writes
    would be read back as `~` + `1`)."""
    return key.replace("~", "~0").replace("/", "~1")


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
