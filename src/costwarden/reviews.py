"""The `admission.k8s.io/v1` AdmissionReview: its wire model, and the request as the
engine reads it.

The pydantic models are the wire contract: precise where costwarden reads (uid, kind,
operation, namespace, dryRun), camelCase aliases, and the error messages a bad body gets.
The objects themselves stay plain JSON dicts, so the hot path never pays to model a whole
PodSpec. Field names are Kubernetes' own, snake_cased.

The engine reads an `AdmissionRequest` — a NamedTuple with the fields it uses — that
`read_review` makes from the wire model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        defer_build=True,  # built on the first review read: offline commands never read one
    )


class GroupVersionKindWire(_Wire):
    group: str = ""
    version: str
    kind: str


class GroupVersionResourceWire(_Wire):
    group: str = ""
    version: str
    resource: str


class AdmissionRequestWire(_Wire):
    uid: str = Field(min_length=1)
    kind: GroupVersionKindWire
    resource: GroupVersionResourceWire
    sub_resource: str | None = None
    # Fields costwarden never reads stay plain JSON objects: modelling them would cost every
    # review a third of its validation time for nothing.
    request_kind: dict[str, Any] | None = None
    request_resource: dict[str, Any] | None = None
    request_sub_resource: str | None = None
    name: str | None = None
    namespace: str | None = None
    operation: Operation
    user_info: dict[str, Any] | None = None
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    dry_run: bool = False
    options: dict[str, Any] | None = None

    def read(self) -> AdmissionRequest:
        return AdmissionRequest(
            self.uid,
            GroupVersionKind(self.kind.group, self.kind.version, self.kind.kind),
            GroupVersionResource(
                self.resource.group, self.resource.version, self.resource.resource
            ),
            self.operation,
            self.sub_resource,
            self.name,
            self.namespace,
            self.user_info,
            self.object,
            self.old_object,
            self.dry_run,
        )


class AdmissionReview(_Wire):
    api_version: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    request: AdmissionRequestWire


def read_review(data: Any) -> AdmissionRequest:
    """The request of a decoded AdmissionReview; raises pydantic's `ValidationError`,
    naming each problem, for anything that is not one."""
    return AdmissionReview.model_validate(data).request.read()


class Status(_Wire):
    code: int | None = None
    message: str | None = None
    reason: str | None = None


class AdmissionResponse(_Wire):
    uid: str
    allowed: bool
    status: Status | None = None
    patch: str | None = None
    """Base64 of an RFC 6902 JSONPatch."""
    patch_type: Literal["JSONPatch"] | None = None
    warnings: tuple[str, ...] | None = None
    audit_annotations: dict[str, str] | None = None


class AdmissionReviewResponse(_Wire):
    api_version: Literal["admission.k8s.io/v1"] = "admission.k8s.io/v1"
    kind: Literal["AdmissionReview"] = "AdmissionReview"
    response: AdmissionResponse


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
