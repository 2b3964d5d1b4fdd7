"""Desired changes as one RFC 7386 merge patch, sent as RFC 6902 JSONPatch.

What the rules (Spot placement, inherited labels) and /mutate (cost labels, estimate
annotations) want of an object is a merge patch: a map of the fields to set, `None` for a
field to remove, a nested map merged into the object's map. `at` places a rule's patch,
written for the pod template, where the template is (`/spec/template` in a Deployment);
`combine` merges several into one (the later wins a key both set); `merge_patch` is the
object after it, as RFC 7386 defines (what the engine prices); `json_patch` turns it into
the JSONPatch operations the AdmissionResponse carries — once, against the original
object, as kopf does (`_cogs/structs/patches.py`): `None` removes a member that is
present, a map into an existing map recurses, anything else adds the member or replaces
one that differs. A value already there is left alone, so a second pass adds nothing.
Keys are escaped per RFC 6901 (`~` -> `~0`, `/` -> `~1`).

Limits (those of RFC 7386): a field cannot be set to `null`, and a list is replaced
whole, never edited by index — a patch that adds a toleration holds the existing ones
too. `combine` merges maps key by key, so a map set after a removal of the same field
merges into the object's rather than replacing it (no rule asks both). No `test`
operations: the patch answers the request that carries the object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from costwarden.engine.verdicts import NO_CHANGES, MergePatch, PatchOperation

_MAP = (dict, Mapping)
"""isinstance() types of a map (dict first: what decoded JSON and patches are)."""


def escape(key: str) -> str:
    """One reference token of an RFC 6901 pointer (`~` first, or the `~1` it writes
    would be read back as `~` + `1`)."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The inverse of `escape` (`~1` -> `/` first, then `~0` -> `~`)."""
    return token.replace("~1", "/").replace("~0", "~")


def at(pointer: str, patch: MergePatch) -> MergePatch:
    """`patch` moved to the RFC 6901 `pointer` ("" leaves it where it is)."""
    if not patch:
        return NO_CHANGES
    for token in reversed(pointer.split("/")[1:]):
        patch = {unescape(token): patch}
    return patch


def combine(patches: Iterable[MergePatch]) -> MergePatch:
    """One merge patch from several: maps merged key by key, the later winning a key both
    set."""
    combined: dict[str, Any] = {}
    for patch in patches:
        for key, value in patch.items():
            current = combined.get(key)
            if isinstance(value, _MAP) and isinstance(current, _MAP):
                value = combine((current, value))
            combined[key] = value
    return combined


def merge_patch(obj: Any, patch: Any) -> Any:
    """The object after `patch` (RFC 7386 `MergePatch(Target, Patch)`).

    Copy-on-write: only the maps on the patch's paths are copied, everything else is
    shared with `obj` (a pod's managedFields alone can be kilobytes).
    """
    if not isinstance(patch, _MAP):
        return patch
    result = dict(obj) if isinstance(obj, _MAP) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(
    obj: Mapping[str, Any], patch: MergePatch, *, pointer: str = ""
) -> tuple[PatchOperation, ...]:
    """The JSONPatch that makes `obj` what `merge_patch(obj, patch)` is (`pointer`: where
    `obj` sits in the document the operations apply to)."""
    operations: list[PatchOperation] = []
    for key, value in patch.items():
        path = f"{pointer}/{escape(key)}"
        current = obj.get(key)
        if value is None:
            if key in obj:
                operations.append(PatchOperation("remove", path))
            continue
        if isinstance(value, _MAP):
            if isinstance(current, _MAP):
                operations.extend(json_patch(current, value, pointer=path))
                continue
            value = merge_patch(None, value)  # a new map: without the patch's nulls
        if current is None:  # absent or null: `add` creates (or overwrites) the member
            operations.append(PatchOperation("add", path, value))
        elif value != current:
            operations.append(PatchOperation("replace", path, value))
    return tuple(operations)
