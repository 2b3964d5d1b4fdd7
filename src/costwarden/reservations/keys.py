"""What a reservation is held under, in one place: the budget rule writes these keys, the
ledger and the pod watch read them; nobody else spells or parses them.

- an object's own reservation: `<namespace>/<Kind>/<name>` (`ml-train/Pod/train-a100`);
- what a change of an existing object adds (an UPDATE, a scale): the object's key, `#`,
  and the request's uid (`ml-train/Deployment/llm#c98338ba-...`), held beside the object's
  own — an autoscaler scaling up 2 -> 4 -> 5 within minutes holds 2 + 2 + 1 pods, and
  the same request again (an API server retry) replaces its own;
- a shared ResourceClaim's devices, charged once with whichever pod names it:
  `<namespace>/ResourceClaim/<name>`, whose running cost the pod cost exporter shows as
  the series of pod `resourceclaim/<name>` (`claim_series`, `shown_by`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from costwarden import workloads

_CHANGE = "#"
"""Neither a key (namespace, kind, name) nor a uid holds one."""


def object_key(namespace: str | None, kind: str, name: str) -> str:
    """An object's own reservation key."""
    return f"{namespace}/{kind}/{name}"


def change_key(key: str, request_uid: str) -> str:
    """What a change of the object under `key` holds what it adds under."""
    return f"{key}{_CHANGE}{request_uid}"


def object_of(key: str) -> str:
    """The object a reservation key belongs to: the key, or what a `change_key` names."""
    return key.partition(_CHANGE)[0]


def parts(key: str) -> tuple[str, str, str]:
    """The namespace, kind and name of the object a key belongs to."""
    namespace, kind, name = object_of(key).split("/", 2)
    return namespace, kind, name


CLAIM = "ResourceClaim"
_CLAIM_SERIES = "resourceclaim/"
"""No pod name holds a `/`: a claim's series is never taken for a pod's."""


def claim_key(namespace: str, name: str) -> str:
    """What a shared ResourceClaim's devices are held under."""
    return object_key(namespace, CLAIM, name)


def claim_series(name: str) -> str:
    """The `pod` label of the series that shows a shared claim's running cost."""
    return _CLAIM_SERIES + name


def shown_by(namespace: str, pod: str) -> str:
    """The reservation key of what the cost series of (`namespace`, `pod`) shows running:
    a pod's own, or a shared claim's."""
    if pod.startswith(_CLAIM_SERIES):
        return claim_key(namespace, pod[len(_CLAIM_SERIES) :])
    return object_key(namespace, "Pod", pod)


def is_kind(key: str, kind: str) -> bool:
    """Whether `key` belongs to an object of `kind`."""
    return f"/{kind}/" in key


def priced_with(pod: Mapping[str, Any]) -> str | None:
    """The key of the workload a pod was priced with when its controller is one of
    Kubernetes' (`workloads.CHARGED_WITH_OWNER`): a Deployment's pods through their
    ReplicaSet, named `<deployment>-<pod-template-hash>`. None for a pod charged itself."""
    metadata = pod.get("metadata") or {}
    owner = next(
        (
            o
            for o in metadata.get("ownerReferences") or ()
            if isinstance(o, Mapping) and o.get("controller")
        ),
        None,
    )
    if owner is None:
        return None
    kind, name = owner.get("kind"), owner.get("name")
    if kind not in workloads.CHARGED_WITH_OWNER or not isinstance(name, str):
        return None
    if kind == "ReplicaSet":
        template_hash = (metadata.get("labels") or {}).get("pod-template-hash")
        if template_hash and name.endswith(f"-{template_hash}"):
            kind, name = "Deployment", name[: -len(template_hash) - 1]
    return object_key(metadata.get("namespace"), kind, name)


def owner_uid(metadata: Mapping[str, Any]) -> str | None:
    """The uid a reservation is owned by: the object's, from its metadata (None before the
    API server gave it one, as for a manifest checked offline)."""
    uid = metadata.get("uid")
    return uid if isinstance(uid, str) and uid else None
