"""The `NamespaceLabels` port over namespace-label files, for running without a cluster
(`serve --namespace-labels-file`, the demo, tests). `costwarden.namespaces` reads the
files — the same reader `check` uses; in a cluster the `kube` adapter watches the real
namespaces instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from costwarden.api.reloading import Reloadable
from costwarden.namespaces import Labels, load

__all__ = ["FileNamespaceLabels", "Labels", "load"]


class FileNamespaceLabels:
    """The `NamespaceLabels` port over reloaded files."""

    def __init__(self, files: Reloadable[Labels]) -> None:
        self.files = files

    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return self.files.current.get(namespace)

    def ready(self) -> bool:
        return True  # loaded in the constructor of `files`, or it raised
