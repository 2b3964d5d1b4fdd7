"""The `admission.k8s.io/v1` AdmissionReview on the wire: the webhook's JSON contract.

The pydantic models are precise where costwarden reads (uid, kind, operation, namespace,
dryRun), take camelCase aliases, and give a bad body its error messages. The objects
themselves stay plain JSON dicts, so the hot path never pays to model a whole PodSpec.
`read_review` turns a decoded review into the `reviews.AdmissionRequest` the engine reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from costwarden.reviews import (
    AdmissionRequest,
    GroupVersionKind,
    GroupVersionResource,
    Operation,
)


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
