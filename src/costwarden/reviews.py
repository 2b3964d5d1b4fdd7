"""The request of an `admission.k8s.io/v1` AdmissionReview as the engine reads it.

An `AdmissionRequest` is a NamedTuple with the fields the engine uses, Kubernetes' own
names snake_cased. The webhook reads one from the JSON wire (`costwarden.api.wire`, the
HTTP layer's pydantic contract); `request_for` builds the one the API server would send
for a manifest, so `check` and `test` judge exactly what admission would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, get_args

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS = frozenset(get_args(Operation))


class GroupVersionKind(NamedTuple):
    group: str
    version: str
    kind: str


class GroupVersionResource(NamedTuple):
    group: str
    version: str
    resource: str


class AdmissionRequest(NamedTuple):
    """The request of an AdmissionReview, as the engine reads it (see `read_review`)."""

    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    operation: Operation
    sub_resource: str | None = None
    name: str | None = None
    namespace: str | None = None
    user_info: dict[str, Any] | None = None
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    dry_run: bool = False


def inconsistency(request: AdmissionRequest) -> str | None:
    """What makes a CREATE or UPDATE one no API server sends, named at its path: no object,
    or an object whose kind, apiVersion or namespace is not the request's. Judging such a
    request as it claims to be would judge something else than what is stored (an 8-GPU pod
    sent as `kind: pod` runs no rule meant for Pods); None when it is consistent."""
    obj = request.object
    if obj is None:
        return "request.object: required for CREATE and UPDATE"
    expected = request.kind
    api_version = f"{expected.group}/{expected.version}" if expected.group else expected.version
    if obj.get("kind") != expected.kind:
        return f"request.object.kind: {obj.get('kind')!r} is not the request's {expected.kind!r}"
    if obj.get("apiVersion") != api_version:
        return (
            f"request.object.apiVersion: {obj.get('apiVersion')!r} is not the request's "
            f"{api_version!r}"
        )
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if namespace is not None and namespace != (request.namespace or None):
        return (
            f"request.object.metadata.namespace: {namespace!r} is not the request's "
            f"{request.namespace!r}"
        )
    return None


def request_for(
    obj: Mapping[str, Any],
    *,
    operation: str = "CREATE",
    old_object: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    uid: str = "costwarden-offline",
    default_namespace: str = "default",
    user: str | None = None,
) -> AdmissionRequest:
    """The AdmissionRequest the API server would send for a manifest (for `check`, `test`),
    made by `user` (None: no userInfo, as from a person nobody named)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):  # evaluating the object names what is wrong
        metadata = {}
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(sorted(OPERATIONS))}")
    # Built as `read_review` would read it: nothing to validate in what we make ourselves.
    return AdmissionRequest(
        uid=uid,
        kind=GroupVersionKind(group, version, kind),
        resource=GroupVersionResource(group, version, f"{kind.lower()}s"),
        operation=operation,  # type: ignore[arg-type]  # checked above
        name=_text(metadata.get("name")),
        namespace=_text(metadata.get("namespace")) or default_namespace,
        user_info=None if user is None else {"username": user},
        object=dict(obj),
        old_object=dict(old_object) if old_object is not None else None,
        dry_run=dry_run,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
