"""The `admission.k8s.io/v1` AdmissionReview: its wire model, and the request as the
engine reads it.

The pydantic models are the wire contract: precise where costwarden reads (uid, kind,
operation, namespace, dryRun), camelCase aliases, and the error messages a bad body gets.
The objects themselves stay plain JSON dicts, so the hot path never pays to model a whole
PodSpec. Field names are Kubernetes' own, snake_cased.

The engine reads an `AdmissionRequest` — a NamedTuple with the fields it uses — made by
`read_review`. A body exactly as an API server writes it (every field of the expected
JSON type, camelCase keys) is read field by field, in 1.9 µs against 5.4 µs for the wire
model and its conversion (the 68 captured reviews); anything else, including every body
with an error, goes through the wire model, so what is accepted and every error message
are pydantic's.
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
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


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
    request = _read_exact(data)
    if request is None:
        request = AdmissionReview.model_validate(data).request.read()
    return request


_SNAKE_CASE_KEYS = frozenset(
    {"sub_resource", "request_kind", "request_resource", "request_sub_resource", "user_info"}
    | {"old_object", "dry_run"}
)
"""Keys the wire model also accepts (by field name): a body using one goes to pydantic."""


def _read_exact(data: Any) -> AdmissionRequest | None:
    """The request when every field is exactly as an API server writes it, else None (the
    wire model then decides). Only values pydantic would accept unchanged pass here."""
    if type(data) is not dict or "api_version" in data:
        return None
    if data.get("apiVersion") != "admission.k8s.io/v1" or data.get("kind") != "AdmissionReview":
        return None
    request = data.get("request")
    if type(request) is not dict or not _SNAKE_CASE_KEYS.isdisjoint(request):
        return None
    uid = request.get("uid")
    operation = request.get("operation")
    kind = _triple(request.get("kind"), "kind")
    resource = _triple(request.get("resource"), "resource")
    dry_run = request.get("dryRun", False)
    if (
        type(uid) is not str
        or not uid
        or type(operation) is not str
        or operation not in OPERATIONS
        or kind is None
        or resource is None
        or type(dry_run) is not bool
    ):
        return None
    sub_resource, name, namespace = (
        request.get("subResource"),
        request.get("name"),
        request.get("namespace"),
    )
    user_info, obj, old = request.get("userInfo"), request.get("object"), request.get("oldObject")
    for text in (sub_resource, name, namespace, request.get("requestSubResource")):
        if text is not None and type(text) is not str:
            return None
    for mapping in (
        user_info,
        obj,
        old,
        request.get("requestKind"),
        request.get("requestResource"),
        request.get("options"),
    ):
        if mapping is not None and type(mapping) is not dict:
            return None
    return AdmissionRequest(
        uid,
        GroupVersionKind(*kind),
        GroupVersionResource(*resource),
        operation,  # type: ignore[arg-type]  # one of OPERATIONS, checked above
        sub_resource,
        name,
        namespace,
        user_info,
        obj,
        old,
        dry_run,
    )


def _triple(value: Any, last: str) -> tuple[str, str, str] | None:
    """(group, version, `last`) of a GroupVersionKind/Resource written as the API server
    writes it, else None."""
    if type(value) is not dict:
        return None
    group, version, name = value.get("group", ""), value.get("version"), value.get(last)
    if type(group) is not str or type(version) is not str or type(name) is not str:
        return None
    return group, version, name


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
    return read_review(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": group, "version": version, "kind": kind},
                "resource": {"group": group, "version": version, "resource": f"{kind.lower()}s"},
                "name": _text(metadata.get("name")),
                "namespace": _text(metadata.get("namespace")) or default_namespace,
                "operation": operation,
                "object": dict(obj),
                "oldObject": dict(old_object) if old_object is not None else None,
                "dryRun": dry_run,
                "userInfo": None if user is None else {"username": user},
            },
        }
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
