"""Loading price catalogs: read, validate, compose and index them.

Catalogs compose in order: the bundled `data/catalog/default.yaml` first (unless left
out), then every file named, and the YAML/JSON files of every directory named (sorted).
A catalog is its `metadata.name`: documents of one name and version are parts of one
catalog, and a document of that name with another version is another edition of it — the
last edition given replaces every earlier one, in the place of the first. So a copy of the
bundled catalog given again (the Helm chart mounts one, to ship prices without a new
image) is one catalog, of one version, not the bundled catalog layered over itself.
Each document adds or REPLACES entries: a later instance type with the same `name`, or a
later accelerator with the same `model`, replaces the earlier one whole (aliases
included); a later `fallback` replaces the earlier one. So a user catalog may be partial:
a few prices of its own, everything else from the bundled one. All documents must share
one currency — a sum of dollars and euros means nothing.

Nothing is reported one error at a time: every problem in every file (YAML syntax,
schema, and the checks only a whole catalog can make) is collected, then raised together
as `documents.InvalidInput`, each naming the file, document, JSON path as written in the
file (camelCase) and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from costwarden import DATA, documents
from costwarden.catalog.models import (
    Accelerator,
    Catalog,
    CatalogDocument,
    Fallback,
    InstanceType,
)
from costwarden.documents import Document, InvalidInput, PathPart, Problem

BUNDLED = DATA / "catalog" / "default.yaml"
"""The default catalog shipped with costwarden, as people edit it (with its comments)."""
BUNDLED_JSON = DATA / "catalog" / "default.json"
"""The same documents as JSON, what every start reads: `scripts/sync-chart-files` writes it
from `BUNDLED` (`as_json`) and a test keeps the two equal. PyYAML reads a catalog of this
size in a large part of `check`'s start-up; `json` in a small fraction of it."""


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[_T]):
    """A composed entry and where it was written, to point problems at it."""

    value: _T
    document: Document
    path: tuple[PathPart, ...]


def load_catalog(paths: Sequence[Path] = (), *, include_bundled: bool = True) -> Catalog:
    """The catalog composed from the bundled one (first) and `paths` (files or dirs, in order).

    Raises `documents.InvalidInput` listing every problem found in every file.
    """
    catalog, problems = _compose(paths, include_bundled=include_bundled)
    if catalog is None or problems:
        raise InvalidInput(problems)
    return catalog


def bundled_catalog() -> Catalog:
    """The bundled default catalog alone, read afresh: its caller keeps it."""
    return load_catalog()


def lint_catalogs(paths: Sequence[Path]) -> list[Problem]:
    """Every problem in `paths` composed over the bundled catalog; empty when all is well.

    With no paths, lints the bundled catalog itself. User catalogs are linted on top of
    the bundled one because they may rely on it (e.g. for accelerator models).
    """
    return _compose(paths, include_bundled=True)[1]


def _compose(
    paths: Sequence[Path], *, include_bundled: bool
) -> tuple[Catalog | None, list[Problem]]:
    docs, problems, sources = _read(paths, include_bundled=include_bundled)
    catalog, problems = _compose_documents(docs, problems)
    return catalog, _in_file_order(problems, sources)


def _in_file_order(problems: list[Problem], sources: list[str]) -> list[Problem]:
    """Problems grouped by file in the order the files were given, then by document and line."""
    order: dict[str, int] = {}
    for source in sources:
        order.setdefault(source, len(order))

    def key(problem: Problem) -> tuple[int, int, int]:
        document = -1 if problem.document is None else problem.document
        return order.get(problem.source, len(order)), document, problem.line or 0

    return sorted(problems, key=key)


def _compose_documents(
    docs: list[Document], problems: list[Problem]
) -> tuple[Catalog | None, list[Problem]]:
    parsed: list[tuple[Document, CatalogDocument]] = []
    for doc in docs:
        model, doc_problems = _validate(doc)
        problems.extend(doc_problems)
        if model is not None:
            parsed.append((doc, model))
    if not docs and not problems:
        problems.append(Problem(source="<catalog>", message="no catalog documents to load"))
    if not parsed:
        return None, problems
    parsed = _latest_editions(parsed)

    currency: _Entry[str] | None = None
    fallback: Fallback | None = None
    accelerators: dict[str, _Entry[Accelerator]] = {}
    instances: dict[str, _Entry[InstanceType]] = {}
    for doc, model in parsed:
        spec = model.spec
        if currency is None:
            currency = _Entry(spec.currency, doc, ("spec", "currency"))
        elif "currency" in spec.model_fields_set and spec.currency != currency.value:
            # A catalog that does not name its currency is in the composed one's.
            problems.append(
                doc.problem(
                    f"currency {spec.currency} differs from {currency.value} of "
                    f"{currency.document.source}: composed catalogs must share one currency",
                    ("spec", "currency"),
                )
            )
        if spec.fallback is not None:
            fallback = spec.fallback
        for i, accelerator in enumerate(spec.accelerators):
            # Re-insert so dict order is definition order: the latest definition's
            # aliases win when two models claim the same alias.
            accelerators.pop(accelerator.model, None)
            path = ("spec", "accelerators", i)
            accelerators[accelerator.model] = _Entry(accelerator, doc, path)
        for i, instance in enumerate(spec.instance_types):
            instances.pop(instance.name, None)
            instances[instance.name] = _Entry(instance, doc, ("spec", "instanceTypes", i))

    for entry in instances.values():
        wanted = entry.value.accelerators
        if wanted is not None and wanted.model not in accelerators:
            known = ", ".join(sorted(accelerators)) or "none"
            problems.append(
                entry.document.problem(
                    f"accelerator model {wanted.model!r} is not defined in any composed "
                    f"catalog (spec.accelerators defines: {known})",
                    (*entry.path, "accelerators", "model"),
                )
            )
    if fallback is None:
        first = parsed[0][0]
        problems.append(
            first.problem(
                "no fallback prices: at least one composed catalog must set spec.fallback "
                "(cpuHourly, memoryGiBHourly, source, effectiveDate)",
                ("spec",),
            )
        )
    if problems or fallback is None or currency is None:
        return None, problems

    aliases: dict[str, str] = {}
    for model_id, defined in accelerators.items():
        for alias in defined.value.aliases:
            aliases[alias.lower()] = model_id
    for model_id in accelerators:  # a model id always names its own model
        aliases[model_id.lower()] = model_id
    editions = {model.metadata.name: model.metadata.version for _, model in parsed}
    catalog = Catalog(
        name=" + ".join(editions),
        version=" + ".join(editions.values()),
        currency=currency.value,
        fallback=fallback,
        accelerators={model_id: defined.value for model_id, defined in accelerators.items()},
        instance_types={name: instance.value for name, instance in instances.items()},
        accelerator_aliases=aliases,
    )
    return catalog, problems


def _latest_editions(
    parsed: list[tuple[Document, CatalogDocument]],
) -> list[tuple[Document, CatalogDocument]]:
    """The documents of each catalog name's last edition given, where that name came first.

    `[bundled 2026-07-30, team 2026-11, copy of bundled 2026-12-01]` composes as
    `[copy 2026-12-01, team 2026-11]`: the newer edition replaces the bundled one whole (an
    entry it dropped is gone) and the team's prices still override it.
    """
    latest: dict[str, str] = {}
    first: dict[str, int] = {}
    for i, (_, model) in enumerate(parsed):
        latest[model.metadata.name] = model.metadata.version
        first.setdefault(model.metadata.name, i)
    kept = [
        (i, pair)
        for i, pair in enumerate(parsed)
        if pair[1].metadata.version == latest[pair[1].metadata.name]
    ]
    kept.sort(key=lambda item: (first[item[1][1].metadata.name], item[0]))
    return [pair for _, pair in kept]


def as_json(text: str, *, source: str) -> str:
    """A catalog's YAML documents as the JSON `BUNDLED_JSON` holds: the same values, numbers
    exact (never through a binary float), dates as the text they were written as."""
    data = [doc.data for doc in documents.read_documents(text, source=source, exact_numbers=True)]
    marked = json.dumps(data, ensure_ascii=False, indent=1, default=_marked_decimal)
    return re.sub(r'"\\u0000([^"]*)"', r"\1", marked) + "\n"


def _marked_decimal(value: object) -> str:
    if not isinstance(value, Decimal):
        raise TypeError(f"{type(value).__name__} in a catalog document")
    return f"\0{value}"  # a string json escapes as \u0000…, unquoted again after


def _bundled_documents() -> list[Document]:
    """The bundled catalog's documents, from their JSON form (named as its YAML source)."""
    data = json.loads(BUNDLED_JSON.read_text(encoding="utf-8"), parse_float=Decimal)
    return [Document(source=str(BUNDLED), index=i, data=doc) for i, doc in enumerate(data)]


def _read(
    paths: Iterable[Path], *, include_bundled: bool
) -> tuple[list[Document], list[Problem], list[str]]:
    """Every document of the catalogs, the problems reading them, and the sources in order."""
    docs: list[Document] = []
    problems: list[Problem] = []
    sources: list[str] = []
    if include_bundled:
        sources.append(str(BUNDLED))
        docs.extend(_bundled_documents())
    for entry in paths:
        sources.append(str(entry))
        files = list(documents.iter_files([entry]))
        if not files:
            problems.append(
                Problem(
                    source=str(entry),
                    message="directory holds no catalog files (*.yaml, *.yml, *.json)",
                )
            )
        for file in files:  # one file at a time, so one bad file hides no other's problems
            sources.append("<stdin>" if file == "-" else str(file))
            try:
                read = documents.read_files([file], exact_numbers=True)
            except InvalidInput as exc:
                problems.extend(exc.problems)
                continue
            if not read:  # a catalog named and empty is a mistake, never "no prices of mine"
                problems.append(Problem(source=sources[-1], message=_EMPTY_FILE))
            docs.extend(read)
    return docs, problems, sources


_EMPTY_FILE = "holds no catalog document (it is empty, or only comments)"


def _validate(doc: Document) -> tuple[CatalogDocument | None, list[Problem]]:
    if not isinstance(doc.data, dict):
        message = "a catalog document must be a mapping (apiVersion, kind, metadata, spec)"
        return None, [doc.problem(message)]
    # The checks the schema cannot make read the raw data, so they run (and report) even
    # when the schema rejects something else in the same document.
    problems = _check(doc)
    try:
        # By alias only: the file format is camelCase, and `cpu_hourly` in a file is a typo.
        model = CatalogDocument.model_validate(doc.data, by_alias=True, by_name=False)
    except ValidationError as exc:
        return None, [*documents.problems_from_validation(exc, doc), *problems]
    return model, problems


def _check(doc: Document) -> list[Problem]:
    """What the schema cannot say: uniqueness inside the document, Spot above on-demand."""
    spec = doc.data.get("spec")
    if not isinstance(spec, dict):
        return []
    problems: list[Problem] = []
    accelerators = _entries(spec, "accelerators")
    instances = _entries(spec, "instanceTypes")
    problems += _duplicates(doc, accelerators, "accelerators", "model", "accelerator model")
    problems += _duplicates(doc, instances, "instanceTypes", "name", "instance type")
    for i, entry in accelerators:
        problems += _spot_above(doc, entry, ("spec", "accelerators", i), "hourly")
        problems += _claimed_aliases(doc, accelerators, i, entry)
    for i, entry in instances:
        problems += _spot_above(doc, entry, ("spec", "instanceTypes", i), "onDemandHourly")
    return problems


def _entries(spec: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = spec.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _duplicates(
    doc: Document, entries: list[tuple[int, dict[str, Any]]], key: str, field: str, what: str
) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for i, entry in entries:
        name = entry.get(field)
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                doc.problem(
                    f"duplicate {what} {name!r} (also spec.{key}[{first[name]}])",
                    ("spec", key, i, field),
                )
            )
        first.setdefault(name, i)
    return problems


def _spot_above(
    doc: Document, entry: dict[str, Any], path: tuple[PathPart, ...], on_demand_field: str
) -> list[Problem]:
    spot, on_demand = _number(entry.get("spotHourly")), _number(entry.get(on_demand_field))
    if spot is None or on_demand is None or spot <= on_demand:
        return []
    message = (
        f"spotHourly {spot} is above {on_demand_field} {on_demand} "
        "(Spot is never dearer than on-demand; check the figures)"
    )
    return [doc.problem(message, (*path, "spotHourly"))]


def _claimed_aliases(
    doc: Document, accelerators: list[tuple[int, dict[str, Any]]], i: int, entry: dict[str, Any]
) -> list[Problem]:
    """An alias this entry shares with an earlier accelerator of the same document."""
    aliases = entry.get("aliases")
    if not isinstance(aliases, list):
        return []
    earlier: dict[str, Any] = {}
    for j, other in accelerators:
        if j >= i:
            break
        for alias in other.get("aliases") or ():
            if isinstance(alias, str):
                earlier.setdefault(alias.lower(), other.get("model"))
    problems = []
    for k, alias in enumerate(aliases):
        if isinstance(alias, str) and alias.lower() in earlier:
            owner = earlier[alias.lower()]
            problems.append(
                doc.problem(
                    f"alias {alias!r} already names accelerator model {owner!r}",
                    ("spec", "accelerators", i, "aliases", k),
                )
            )
    return problems


def _number(value: object) -> Decimal | None:
    """A price as the schema would read it, or None when the schema will reject it anyway."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
