"""The namespace cache behind the watch."""

from __future__ import annotations

from costwarden.kube.namespaces import NamespaceCache


def namespace(name: str, **labels: str) -> dict[str, object]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_the_cache_is_ready_only_after_the_first_list() -> None:
    cache = NamespaceCache()
    assert cache.ready() is False
    assert cache.labels_for("ml-dev") is None
    cache.replace([namespace("ml-dev", team="vision")])
    assert cache.ready() is True
    assert cache.labels_for("ml-dev") == {"team": "vision"}


def test_watch_events_add_change_and_remove_namespaces() -> None:
    cache = NamespaceCache()
    cache.replace([namespace("a", team="x")])
    cache.apply("ADDED", namespace("b"))
    cache.apply("MODIFIED", namespace("a", team="y"))
    cache.apply("DELETED", namespace("b"))
    assert cache.labels_for("a") == {"team": "y"}
    assert cache.labels_for("b") is None
    assert len(cache) == 1


def test_a_relist_drops_namespaces_deleted_while_the_watch_was_down() -> None:
    cache = NamespaceCache()
    cache.replace([namespace("a"), namespace("gone")])
    cache.replace([namespace("a")])
    assert cache.labels_for("gone") is None


def test_objects_without_a_name_are_ignored() -> None:
    cache = NamespaceCache()
    cache.replace([{"metadata": {}}, {"kind": "Namespace"}, namespace("ok")])
    cache.apply("ADDED", {"metadata": {"labels": {"a": "b"}}})
    assert len(cache) == 1
