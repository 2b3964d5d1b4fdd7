"""The labels of a kind of cluster object by name — namespaces, nodes — as a reflector's
sink (`kube.watching`): replaced wholesale by each list, so objects deleted meanwhile
disappear, and updated by watch events. Readers (the admission path, the pod cost
exporter) do a dict lookup and never wait on the API server; writers swap in a new dict,
so a reader sees the old labels or the new, never a half-written set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class LabelCache:
    """Labels by object name; `keep` picks the label keys held (None: all of them)."""

    def __init__(self, keep: Callable[[str], bool] | None = None) -> None:
        self._keep = keep
        self._labels: dict[str, Mapping[str, str]] = {}
        self._synced = threading.Event()

    def labels_for(self, name: str) -> Mapping[str, str] | None:
        """The object's labels (those kept; possibly none), or None when it is unknown."""
        return self._labels.get(name)

    def ready(self) -> bool:
        """Whether the first list has landed (for `/readyz`)."""
        return self._synced.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the first list; whether it has landed."""
        return self._synced.wait(timeout)

    def __len__(self) -> int:
        return len(self._labels)

    def replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Every object, after a (re)list."""
        labels = {}
        for obj in objects:
            name, values = self._name_and_labels(obj)
            if name is not None:
                labels[name] = values
        self._labels = labels
        self._synced.set()

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        name, values = self._name_and_labels(obj)
        if name is None:
            return
        if event_type != "DELETED" and self._labels.get(name) == values:
            return  # most events change no label (a node's status): nothing to copy
        labels = dict(self._labels)
        if event_type == "DELETED":
            labels.pop(name, None)
        else:
            labels[name] = values
        self._labels = labels

    def _name_and_labels(self, obj: Mapping[str, Any]) -> tuple[str | None, Mapping[str, str]]:
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
            return None, {}
        labels = metadata.get("labels")
        if not isinstance(labels, Mapping):
            return metadata["name"], {}
        keep = self._keep
        return metadata["name"], {
            key: value
            for key, value in labels.items()
            if isinstance(value, str) and (keep is None or keep(key))
        }
