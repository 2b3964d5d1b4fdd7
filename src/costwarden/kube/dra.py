"""DRA objects from the cluster: list-then-watch caches behind the estimator's `DraObjects` port.

`serve --in-cluster` watches the `resource.k8s.io/v1` DeviceClasses, ResourceClaimTemplates
and ResourceClaims of every namespace the way it watches namespaces: one `kube.watching`
reflector thread per kind feeds `DraCache`, whose logic is tested without a cluster. The
admission path reads dicts and never waits on the API server; until a kind's first list
lands its lookups find nothing, so a pod naming a claim is *unpriced* (and its rules do what
they do with an unpriced pod), never priced at zero.

What is kept of each object is what pricing reads (name, namespace, annotations, spec).
ResourceClaims the control plane makes for one pod — from a template
(`resource.kubernetes.io/pod-claim-name`) or for a DRA-backed extended resource
(`resource.kubernetes.io/extended-resource-claim`) — are left out: no pod names them in
`resourceClaimName`, and a large cluster has one per pod.

On a cluster without `resource.k8s.io/v1` (before Kubernetes 1.34) the lists fail and the
reflectors retry every `retry_seconds`, logging each failure; the caches stay empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubernetes import client

from costwarden.estimating import claims
from costwarden.kube import watching

RETRY_SECONDS = 60.0
"""Between failed lists: a cluster without DRA fails every one, and says so once a minute."""

Key = tuple[str, str]


class _Kind:
    """The objects of one kind, by (namespace, name): a `watching.Sink`."""

    def __init__(self, *, keep: Callable[[Mapping[str, Any]], bool] | None = None) -> None:
        self.by_key: dict[Key, Mapping[str, Any]] = {}
        self.generation = 0
        """Counts the changes (after each is in `by_key`): what readers memoise by."""
        self.synced = threading.Event()
        self._keep = keep

    def replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        by_key = {}
        for obj in objects:
            kept = self._kept(obj)
            if kept is not None:
                by_key[kept[0]] = kept[1]
        self.by_key = by_key  # one reference swap: readers see the old or the new dict
        self.generation += 1  # after the swap: a reader never keys new data by an old count
        self.synced.set()

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        kept = self._kept(obj)
        key = _key(obj)
        if key is None:
            return
        if event_type == "DELETED" or kept is None:
            if key not in self.by_key:
                return  # one left out (a claim made for one pod), or gone already
            by_key = dict(self.by_key)
            del by_key[key]
        else:
            if self.by_key.get(key) == kept[1]:
                return  # nothing pricing reads changed (a status update)
            by_key = dict(self.by_key)
            by_key[key] = kept[1]
        self.by_key = by_key
        self.generation += 1  # after the swap: a reader never keys new data by an old count

    def _kept(self, obj: Mapping[str, Any]) -> tuple[Key, Mapping[str, Any]] | None:
        key = _key(obj)
        if key is None or (self._keep is not None and not self._keep(obj)):
            return None
        metadata = obj["metadata"]
        annotations = metadata.get("annotations")
        return key, {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "metadata": {
                "name": key[1],
                **({"namespace": key[0]} if key[0] else {}),
                "annotations": dict(annotations) if isinstance(annotations, Mapping) else {},
            },
            "spec": obj.get("spec"),
        }


def _key(obj: Mapping[str, Any]) -> Key | None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return None
    namespace = metadata.get("namespace")
    return (namespace if isinstance(namespace, str) else "", metadata["name"])


def _made_by_user(claim: Mapping[str, Any]) -> bool:
    annotations = (claim.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping):
        return True
    return not any(key in annotations for key in claims.GENERATED_CLAIM_ANNOTATIONS)


class DraCache:
    """The cluster's DeviceClasses, ResourceClaimTemplates and ResourceClaims (`DraObjects`)."""

    def __init__(self) -> None:
        self.classes = _Kind()
        self.templates = _Kind()
        self.claims = _Kind(keep=_made_by_user)
        self._extended: tuple[object, claims.ExtendedResources] = (None, ())

    def device_class(self, name: str) -> Mapping[str, Any] | None:
        return self.classes.by_key.get(("", name))

    def claim_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.templates.by_key.get((namespace, name))

    def claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.claims.by_key.get((namespace, name))

    def extended_resources(self) -> claims.ExtendedResources:
        classes = self.classes.by_key
        if self._extended[0] is not classes:  # the classes changed: one pass over a handful
            pairs = claims.extended_pairs((name, obj) for (_, name), obj in classes.items())
            self._extended = (classes, pairs)
        return self._extended[1]

    def generation(self) -> tuple[int, int, int]:
        return (self.classes.generation, self.templates.generation, self.claims.generation)

    def ready(self) -> bool:
        """Whether every kind's first list has landed."""
        return all(kind.synced.is_set() for kind in (self.classes, self.templates, self.claims))

    def __len__(self) -> int:
        return sum(len(k.by_key) for k in (self.classes, self.templates, self.claims))


WATCHED = {
    "deviceclasses": "list_device_class",
    "resourceclaimtemplates": "list_resource_claim_template_for_all_namespaces",
    "resourceclaims": "list_resource_claim_for_all_namespaces",
}
"""`resource.k8s.io` plural -> the `ResourceV1Api` method listing it: what the chart's
ClusterRole must let the server list and watch (a chart test holds them equal)."""


def start_dra_watch(
    api_client: Any,
    cache: DraCache,
    *,
    stop: threading.Event,
    retry_seconds: float = RETRY_SECONDS,
) -> list[threading.Thread]:
    """Keep `cache` in step with the cluster's DRA objects until `stop` is set."""
    resource = client.ResourceV1Api(api_client)
    sinks = {
        "deviceclasses": cache.classes,
        "resourceclaimtemplates": cache.templates,
        "resourceclaims": cache.claims,
    }
    return [
        watching.start(
            getattr(resource, method),
            sinks[plural],
            name=plural.removesuffix("s"),
            stop=stop,
            retry_seconds=retry_seconds,
        )
        for plural, method in WATCHED.items()
    ]
