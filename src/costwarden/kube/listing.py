"""Listing what runs in a cluster, read-only, a page at a time (for `costwarden audit`).

Every resource an audit reads is listed cluster-wide with `limit` and `continue`, as
`kubectl get -A` does, so a large cluster is read in bounded pages. Items come back as the
API server sends them, with the `kind` and `apiVersion` a list leaves out put back, so
they read exactly like a `kubectl get -A -o yaml` dump. A resource the cluster does not
serve (the PolicyException CRD not installed) is skipped and said so; one the credentials
may not list stops the audit, naming it: a partial audit would understate the cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import urllib3
from kubernetes import client

from costwarden.kube.clients import Credentials


class Resource(NamedTuple):
    group: str
    version: str
    plural: str
    kind: str

    @property
    def path(self) -> str:
        if self.group:
            return f"/apis/{self.group}/{self.version}/{self.plural}"
        return f"/api/{self.version}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


AUDITED = (
    Resource("", "v1", "namespaces", "Namespace"),
    Resource("costwarden.io", "v1alpha1", "policyexceptions", "PolicyException"),
    Resource("resource.k8s.io", "v1", "deviceclasses", "DeviceClass"),
    Resource("resource.k8s.io", "v1", "resourceclaimtemplates", "ResourceClaimTemplate"),
    Resource("resource.k8s.io", "v1", "resourceclaims", "ResourceClaim"),
    Resource("apps", "v1", "deployments", "Deployment"),
    Resource("apps", "v1", "statefulsets", "StatefulSet"),
    Resource("apps", "v1", "daemonsets", "DaemonSet"),
    Resource("apps", "v1", "replicasets", "ReplicaSet"),
    Resource("batch", "v1", "cronjobs", "CronJob"),
    Resource("batch", "v1", "jobs", "Job"),
    Resource("", "v1", "replicationcontrollers", "ReplicationController"),
    Resource("", "v1", "pods", "Pod"),
)
"""What an audit reads: the world (namespaces, exceptions, the DRA objects pods' claims
name) and every kind that runs pods."""

OPTIONAL = frozenset(
    {"policyexceptions", "deviceclasses", "resourceclaimtemplates", "resourceclaims"}
)
"""Resources a cluster may not serve (a CRD not installed; DRA before Kubernetes 1.34):
skipped when absent, and said so."""

PAGE_SIZE = 500
"""Items per list request (kubectl's `--chunk-size` default)."""

Fetch = Callable[[str, Mapping[str, str]], Mapping[str, Any]]
"""GET of an API path with query parameters, decoded; raises `ListingError` with the
HTTP status for a status the server answers with."""


class ListingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Forbidden(Exception):
    """The credentials may not list a resource the audit needs; the message names it."""


def list_all(
    fetch: Fetch,
    *,
    resources: tuple[Resource, ...] = AUDITED,
    page_size: int = PAGE_SIZE,
    progress: Callable[[Resource, int], None] = lambda resource, count: None,
    skipped: Callable[[Resource, str], None] = lambda resource, why: None,
) -> Iterator[dict[str, Any]]:
    """Every object of `resources`, cluster-wide, a page at a time; `progress` hears how
    many of a resource were read so far, `skipped` which optional resource is not served."""
    for resource in resources:
        token = ""
        count = 0
        while True:
            query = {"limit": str(page_size), **({"continue": token} if token else {})}
            try:
                page = fetch(resource.path, query)
            except ListingError as exc:
                if exc.status == 404 and resource.plural in OPTIONAL:
                    skipped(resource, "not served by this cluster")
                    break
                if exc.status in (401, 403):
                    raise Forbidden(
                        f"cannot list {resource.plural}.{resource.group or 'core'} in all "
                        f"namespaces ({exc.status}): the audit needs list on it, read-only"
                    ) from None
                raise
            for item in page.get("items") or ():
                if isinstance(item, dict):
                    item.setdefault("apiVersion", resource.api_version)
                    item.setdefault("kind", resource.kind)
                    count += 1
                    yield item
            progress(resource, count)
            metadata = page.get("metadata") or {}
            token = str(metadata.get("continue") or "")
            if not token:
                break


def fetcher(credentials: Credentials, *, timeout_seconds: float = 60) -> Fetch:
    """`Fetch` over the Kubernetes client with `credentials` (GET only)."""
    api: Any = client.ApiClient(credentials.configuration)  # the client ships partial types

    def fetch(path: str, query: Mapping[str, str]) -> Mapping[str, Any]:
        method, url, headers, body, post = api.param_serialize(
            "GET",
            path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = api.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post,
                _request_timeout=timeout_seconds,
            )
        except urllib3.exceptions.HTTPError as exc:
            reason = " ".join(str(exc).split())
            raise ListingError(
                0, f"{credentials.host}: cannot reach the API server: {reason}"
            ) from None
        payload = response.read()
        if response.status >= 400:
            raise ListingError(response.status, f"{path}: HTTP {response.status}")
        data: Mapping[str, Any] = json.loads(payload)
        return data

    return fetch
