"""Approved PolicyExceptions from the cluster: a list-then-watch cache, off the event loop.

`serve --in-cluster` watches the `costwarden.io/v1alpha1` PolicyExceptions of every
namespace (the custom objects API) the way it watches namespaces: `kube.watching`'s
reflector thread feeds `ExceptionCache`, whose logic is tested without a cluster. The
admission path reads `ExceptionCache.exceptions()` — one attribute — and never waits on the
API server; until the first list lands there are none, so a label waives nothing.

A PolicyException reaches the cluster through costwarden's validating webhook, which admits
it only as an approval (`policies.approving`); the cache keeps those that read as the model
and name their approver (`costwarden.io/approved-by`). One that does not — written while the
webhook was not registered, or read by a newer model than admitted it — is left out and
logged once at WARNING, naming it and why. One being deleted is left out at once: changes to
a terminating object are not sent to the webhook (so its finalizers can go), and a deletion
ends an approval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from costwarden.documents import format_path
from costwarden.kube import watching
from costwarden.policies import approving, models

log = logging.getLogger(__name__)

GROUP = "costwarden.io"
VERSION = "v1alpha1"
PLURAL = "policyexceptions"

Key = tuple[str, str]
"""(namespace, name): one PolicyException."""


class ExceptionCache:
    """The cluster's approved PolicyExceptions, replaced by lists and updated by watch events."""

    def __init__(self) -> None:
        self._by_key: dict[Key, models.PolicyException] = {}
        self._current: tuple[models.PolicyException, ...] = ()
        self._left_out: dict[Key, str] = {}
        """Why each object left out was left out, as logged (so it is logged once)."""
        self._synced = threading.Event()

    def exceptions(self) -> tuple[models.PolicyException, ...]:
        """The approved exceptions now, by namespace and name: a new tuple whenever they
        change and the same one while they do not, so callers may memoise on its identity."""
        return self._current

    def ready(self) -> bool:
        """Whether the first list has landed."""
        return self._synced.is_set()

    def __len__(self) -> int:
        return len(self._current)

    def replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Every PolicyException, after a (re)list."""
        by_key: dict[Key, models.PolicyException] = {}
        present: set[Key] = set()
        for obj in objects:
            key = _key(obj)
            if key is None:
                continue
            present.add(key)
            exception = self._admit(key, obj)
            if exception is not None:
                by_key[key] = exception
        # Forget what was left out and is gone, so that it is logged again should it return.
        self._left_out = {key: why for key, why in self._left_out.items() if key in present}
        self._publish(by_key)
        self._synced.set()

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        key = _key(obj)
        if key is None:
            return
        by_key = dict(self._by_key)
        if event_type == "DELETED":
            by_key.pop(key, None)
            self._left_out.pop(key, None)
        else:
            exception = self._admit(key, obj)
            if exception is None:
                by_key.pop(key, None)
            else:
                by_key[key] = exception
        self._publish(by_key)

    def _admit(self, key: Key, obj: Mapping[str, Any]) -> models.PolicyException | None:
        """`obj` read as an approved exception, or None (logged once when it is not one)."""
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("deletionTimestamp"):
            self._left_out.pop(key, None)
            return None
        exception, why = _read(obj)
        if exception is not None:
            self._left_out.pop(key, None)
            return exception
        if self._left_out.get(key) != why:
            log.warning("PolicyException %s/%s left out: %s", *key, why)
            self._left_out[key] = why
        return None

    def _publish(self, by_key: dict[Key, models.PolicyException]) -> None:
        self._by_key = by_key
        current = tuple(by_key[key] for key in sorted(by_key))
        if current != self._current:
            self._current = current  # one reference swap: readers see the old or the new


def _key(obj: Mapping[str, Any]) -> Key | None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return None
    namespace = metadata.get("namespace")
    return (namespace if isinstance(namespace, str) else "", metadata["name"])


def _read(obj: Mapping[str, Any]) -> tuple[models.PolicyException | None, str]:
    """The exception `obj` approves, or None and why it approves nothing."""
    try:
        exception = approving.read(obj)
    except ValidationError as exc:
        found = "; ".join(
            f"{format_path([p for p in e['loc'] if isinstance(p, str | int)]) or 'object'}: "
            f"{e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        return None, f"not a valid PolicyException ({found})"
    if not exception.metadata.namespace:
        # Without one it would waive in every namespace its match allows.
        return None, "it has no namespace"
    if not exception.metadata.annotations.get(models.APPROVED_BY):
        return None, (
            f"no {models.APPROVED_BY} annotation: it was not approved through costwarden's webhook"
        )
    return exception, ""


def start_exception_watch(
    api_client: Any, cache: ExceptionCache, *, stop: threading.Event, retry_seconds: float = 5.0
) -> threading.Thread:
    """Keep `cache` in step with the cluster's PolicyExceptions until `stop` is set."""
    custom_objects = client.CustomObjectsApi(api_client)

    def list_policy_exceptions(**options: Any) -> Any:
        return custom_objects.list_cluster_custom_object(GROUP, VERSION, PLURAL, **options)

    return watching.start(
        list_policy_exceptions,
        cache,
        name="policyexception",
        stop=stop,
        retry_seconds=retry_seconds,
    )
