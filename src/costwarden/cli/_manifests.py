"""What `check`, `estimate` and `lint` share: their file options and reading objects from files.

Manifests come as files, directories (read recursively) or stdin, each possibly holding
several documents, and a document may be a `kind: List` (or `PodList`, ...) whose `items`
are the objects — the shape `kubectl get -o yaml` prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costwarden import documents
from costwarden.documents import Document, InvalidInput, PathPart, Problem
from costwarden.estimating import claims

if TYPE_CHECKING:
    from costwarden.kube.clients import Credentials


def add_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """`-f FILE|DIR|-` (repeatable) and `--catalog PATH` (repeatable)."""
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE|DIR|-",
        help=f"manifests to {what} (repeatable; directories are read recursively; - is stdin)",
    )
    add_catalog_argument(parser)


def add_catalog_argument(parser: argparse.ArgumentParser) -> None:
    """`--catalog PATH` (repeatable)."""
    parser.add_argument(
        "--catalog",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="price catalog file or directory composed over the bundled one (repeatable)",
    )


def add_policies_argument(parser: argparse.ArgumentParser) -> None:
    """`--policies PATH` (repeatable)."""
    parser.add_argument(
        "--policies",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="policy file or directory (repeatable; default: the bundled policies, the "
        "packaged copy of the repository's policies/)",
    )


def add_now_argument(parser: argparse.ArgumentParser, *, what: str) -> None:
    """`--now TIME`: judge as of this moment (exception expiries use it)."""
    parser.add_argument(
        "--now",
        type=_timestamp,
        help=f"{what} as of this time (RFC 3339, e.g. 2026-12-01T00:00:00Z; default: now) — "
        "exception expiries use it",
    )


def add_credentials_arguments(parser: argparse.ArgumentParser) -> None:
    """`--kubeconfig` and `--kube-context`, the credentials `--from-cluster` reads with."""
    parser.add_argument(
        "--kubeconfig", type=Path, metavar="PATH", help="kubeconfig file (with --from-cluster)"
    )
    parser.add_argument(
        "--kube-context",
        metavar="NAME",
        help="kubeconfig context (with --from-cluster; default: its current-context)",
    )


def cluster_credentials(args: argparse.Namespace) -> Credentials:
    """The credentials `--from-cluster` reads with, found as kubectl finds them
    (`kube.clients.find_credentials`); `InputError` naming what is unusable."""
    from costwarden.cli import InputError
    from costwarden.kube import clients  # only when asked: the client is heavy

    try:
        return clients.find_credentials(
            kubeconfig=args.kubeconfig,
            context=args.kube_context,
            environ=os.environ,
            home=Path.home(),
        )
    except clients.ConfigurationError as exc:
        raise InputError(f"--from-cluster: {exc}") from None


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone (e.g. Z)")
    return moment


NAMESPACE_LABELS_FLAG = "--namespace-labels-file"
"""One name in `check` and `serve` (the setting's, `COSTWARDEN_NAMESPACE_LABELS_FILE`)."""
NAMESPACE_LABELS_ALIAS = "--namespace-labels"
"""What `check` called it before; still accepted, hidden, with a warning."""


def add_namespace_labels_alias(parser: argparse.ArgumentParser, *, dest: str) -> None:
    """The hidden, deprecated `--namespace-labels FILE`, storing into `dest` as the flag
    `--namespace-labels-file` does."""
    parser.add_argument(
        NAMESPACE_LABELS_ALIAS, dest=dest, type=Path, action=_Deprecated, help=argparse.SUPPRESS
    )


class _Deprecated(argparse.Action):
    """Stores its value like the flag that replaces it, and says so on stderr."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(
            f"warning: {option_string} is deprecated; use {NAMESPACE_LABELS_FLAG}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


@dataclass(frozen=True, slots=True)
class Manifest:
    """One Kubernetes object and where it was read."""

    document: Document
    path: tuple[PathPart, ...]
    """Path of the object inside its document (`()`, or `("items", i)` in a List)."""
    obj: dict[str, Any]

    def problem(self, message: str, path: Sequence[PathPart] = ()) -> Problem:
        return self.document.problem(message, (*self.path, *path))


def read(files: Sequence[str | Path]) -> tuple[list[Manifest], list[Problem]]:
    """Every well-formed object in the files, and a problem for each malformed one (the
    caller adds its own and reports them all at once). Unreadable files raise
    `InvalidInput`, and so do files that hold no object at all."""
    manifests, problems = from_documents(documents.read_files(files))
    if not manifests and not problems:
        # A gate that read nothing checked nothing: a mis-pointed path, an empty directory, a
        # failed `helm template |` without pipefail. kubectl refuses the same way.
        named = ", ".join("<stdin>" if str(f) == "-" else str(f) for f in files)
        raise InvalidInput([Problem(source=named, message="no objects found: nothing was checked")])
    return manifests, problems


def from_documents(docs: Sequence[Document]) -> tuple[list[Manifest], list[Problem]]:
    """The objects in documents already read (each one, or a List's items), and a problem for
    each malformed one."""
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for doc in docs:
        for base, obj in _objects(doc, problems):
            if not isinstance(obj, dict):
                problems.append(doc.problem("not a Kubernetes object (expected a mapping)", base))
                continue
            missing = [key for key in ("apiVersion", "kind") if not isinstance(obj.get(key), str)]
            if missing:
                problems.append(doc.problem(f"{' and '.join(missing)} missing", base))
                continue
            if not isinstance(obj.get("metadata", {}), dict):
                problems.append(doc.problem("expected a mapping", (*base, "metadata")))
                continue
            manifests.append(Manifest(document=doc, path=base, obj=obj))
    return manifests, problems


def _objects(doc: Document, problems: list[Problem]) -> list[tuple[tuple[PathPart, ...], Any]]:
    data = doc.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if isinstance(kind, str) and kind.endswith("List") and "items" in data:
        items = data["items"]
        if not isinstance(items, list):
            problems.append(doc.problem("expected a list of objects", ("items",)))
            return []
        return [(("items", i), item) for i, item in enumerate(items)]
    return [((), data)]


def dra_objects(manifests: Sequence[Manifest], problems: list[Problem]) -> claims.StaticDraObjects:
    """The DRA objects among the manifests (`resource.k8s.io` DeviceClasses,
    ResourceClaimTemplates and ResourceClaims): what the pods' claims are priced from, as
    the cluster's would be. A malformed one is a problem naming its file, line and path."""
    found = []
    for manifest in manifests:
        if not claims.is_dra_object(manifest.obj):
            continue
        wrong = claims.problems(manifest.obj)
        problems.extend(manifest.problem(exc.message, exc.path) for exc in wrong)
        if not wrong:
            found.append(manifest.obj)
    return claims.StaticDraObjects(found)
