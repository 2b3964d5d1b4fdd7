"""List-then-watch of one kind of object into a sink, in a daemon thread (a reflector).

Thin on purpose: the thread only moves plain dicts from the client into a sink whose
logic is tested without a cluster. It lists everything (`sink.replace`, so objects deleted
meanwhile disappear), then watches, resuming each watch where the last one ended
(bookmarks keep that point fresh). After the normal `410 Gone` (resourceVersion too old)
it lists again at once; after any other failure it waits `retry_seconds` first. Admission
must outlive API-server hiccups, so a failure never ends the thread: the sink keeps what
it last had.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

# The client ships no type hints; mypy --strict would flag every call into it.
_Watch: Any = watch.Watch
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED")


class Sink(Protocol):
    def replace(self, objects: Sequence[Mapping[str, Any]]) -> None:
        """Every object, after a (re)list."""
        ...

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        ...


def start(
    list_objects: Callable[..., Any],
    sink: Sink,
    *,
    name: str,
    stop: threading.Event,
    retry_seconds: float = 5.0,
) -> threading.Thread:
    """Reflect what `list_objects` (a client `list_*` method) returns into `sink` until
    `stop` is set."""
    thread = threading.Thread(
        target=_reflect,
        kwargs={
            "list_objects": list_objects,
            "sink": sink,
            "name": name,
            "stop": stop,
            "retry_seconds": retry_seconds,
        },
        name=f"{name}-watch",
        daemon=True,
    )
    thread.start()
    return thread


def _reflect(
    *,
    list_objects: Callable[..., Any],
    sink: Sink,
    name: str,
    stop: threading.Event,
    retry_seconds: float,
) -> None:
    resource_version: str | None = None
    while not stop.is_set():
        try:
            if resource_version is None:
                resource_version = _relist(list_objects, sink)
            resource_version = _watch(list_objects, sink, stop=stop, since=resource_version)
        except ApiException as error:
            resource_version = None
            if error.status != 410:  # 410 Gone: too old, re-list at once
                log.warning("%s watch failed: %s", name, error)
                stop.wait(retry_seconds)
        except Exception:
            log.exception("%s watch failed", name)
            resource_version = None
            stop.wait(retry_seconds)


def _relist(list_objects: Callable[..., Any], sink: Sink) -> str:
    # Raw JSON rather than the client's models: sinks want plain dicts, and skipping model
    # deserialisation keeps a large list cheap.
    listing = json.loads(list_objects(_preload_content=False).data)
    sink.replace(listing.get("items") or [])
    return str(listing["metadata"]["resourceVersion"])


def _watch(
    list_objects: Callable[..., Any], sink: Sink, *, stop: threading.Event, since: str
) -> str:
    """Follow changes from `since`; returns where it got to, so the next watch resumes
    there instead of re-listing."""
    stream = _Watch()
    for event in stream.stream(
        list_objects, resource_version=since, allow_watch_bookmarks=True, timeout_seconds=300
    ):
        if stop.is_set():
            stream.stop()
            break
        obj = event["raw_object"]
        since = str((obj.get("metadata") or {}).get("resourceVersion") or since)
        if event["type"] in EVENT_TYPES:
            sink.apply(event["type"], obj)
    return since
