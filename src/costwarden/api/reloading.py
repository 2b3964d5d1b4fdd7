"""Files that are reloaded while serving: policies, catalogs, namespace labels.

In a cluster these are ConfigMap volumes. The kubelet updates one by writing a new
hidden directory (`..2026_11_22_10_00_00.123`), then atomically re-pointing the `..data`
symlink at it; the visible files are symlinks through `..data`. So a change is detected
by the *bytes* of the visible files (their names and contents hashed), not by mtimes of
symlinks, and hidden entries are skipped — otherwise every policy would be read twice,
once through its symlink and once inside the timestamped directory.

A reload that fails keeps the previous good value serving; the error is kept in `status`
for `/readyz`, logged, and reported to `on_status` (the reload metrics). The first load
has no previous value, so it raises: at start a bad policy refuses to start, naming the
file and path.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from costwarden import documents
from costwarden.documents import InvalidInput, Problem

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Status:
    """What `/readyz` says about one reloaded source."""

    source: str
    loaded: bool
    files: tuple[str, ...]
    loaded_at: datetime | None = None
    error: str | None = None
    """Why the latest load failed; the previous good value (if any) is still serving."""
    failed_at: datetime | None = None


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the document files under the directories named, sorted
    (hidden ConfigMap internals skipped; see `documents.iter_files`)."""
    return [Path(file) for file in documents.iter_files(paths)]


def fingerprint(files: Sequence[Path]) -> str:
    """A hash of the files' names and bytes; an unreadable file hashes as its error."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError as exc:
            digest.update(f"unreadable: {exc}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Reloadable(Generic[T]):
    """A value loaded from files, re-loaded when their bytes change."""

    def __init__(
        self,
        source: str,
        *,
        paths: Sequence[Path],
        load: Callable[[Sequence[Path]], T],
        on_status: Callable[[Status], None] = lambda status: None,
    ) -> None:
        """Load now. Raises `InvalidInput` naming the file and path when it is invalid."""
        self.source = source
        self._paths = tuple(paths)
        self._load = load
        self._on_status = on_status
        self._subscribers: list[Callable[[T], None]] = []
        files = expand(self._paths)
        self._fingerprint = fingerprint(files)
        try:
            self._value = self._read(files)
        except InvalidInput as exc:
            self._report(Status(source, loaded=False, files=_names(files), error=str(exc)))
            raise
        self._report(Status(source, loaded=True, files=_names(files), loaded_at=datetime.now(UTC)))

    def subscribe(self, callback: Callable[[T], None]) -> None:
        """Call `callback` with each new value after a successful reload."""
        self._subscribers.append(callback)

    @property
    def current(self) -> T:
        """The latest good value. Reading it is one attribute load: safe from any thread."""
        return self._value

    def reload_if_changed(self) -> bool:
        """Reload when the files changed; True if a new value now serves. Never raises."""
        files = expand(self._paths)
        new_fingerprint = fingerprint(files)
        if new_fingerprint == self._fingerprint:
            return False
        self._fingerprint = new_fingerprint
        try:
            value = self._read(files)
        except Exception as exc:  # any failure keeps the last good value serving
            log.error(
                "reloading %s failed; the previous version keeps serving:\n%s", self.source, exc
            )
            self._report_failure(files, exc)
            return False
        for callback in self._subscribers:
            try:
                callback(value)
            except Exception as exc:  # a follower refusing the new value refuses the reload
                log.error("reloading %s refused:\n%s", self.source, exc)
                self._report_failure(files, exc)
                return False
        self._value = value
        log.info("reloaded %s from %d file(s)", self.source, len(files))
        self._report(
            Status(self.source, loaded=True, files=_names(files), loaded_at=datetime.now(UTC))
        )
        return True

    def _read(self, files: Sequence[Path]) -> T:
        """`load(files)`; a directory configured and holding no file to read is an error
        naming it (an emptied ConfigMap, a mis-pointed path), never "nothing given"."""
        empty = [
            Problem(source=str(path), message="directory holds no *.yaml, *.yml or *.json")
            for path in self._paths
            if path.is_dir() and not expand([path])
        ]
        try:
            value = self._load(files)
        except InvalidInput as exc:
            if not empty:
                raise
            raise InvalidInput([*empty, *exc.problems]) from None
        if empty:
            raise InvalidInput(empty)
        return value

    def _report_failure(self, files: Sequence[Path], error: Exception) -> None:
        """The last good value keeps serving: still loaded, with the failure beside it."""
        self._report(
            Status(
                self.source,
                loaded=True,
                files=_names(files),
                loaded_at=self.status.loaded_at,
                error=str(error),
                failed_at=datetime.now(UTC),
            )
        )

    def _report(self, status: Status) -> None:
        self.status = status
        self._on_status(status)


def _names(files: Sequence[Path]) -> tuple[str, ...]:
    return tuple(str(f) for f in files)
