"""Loading price catalogs: read, validate, compose and index them.

Catalogs compose in order: the bundled `data/catalog/default.yaml` first (unless left
out), then every file named, and the YAML/JSON files of every directory named (sorted).
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

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import ValidationError

from costwarden import documents
from costwarden.catalog.models import (
    Accelerator,
    Catalog,
    CatalogDocument,
    Fallback,
    InstanceType,
)
from costwarden.documents import Document, InvalidInput, PathPart, Problem

BUNDLED = resources.files("costwarden").joinpath("data/catalog/default.yaml")
"""The default catalog shipped with costwarden."""


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


@functools.cache
def bundled_catalog() -> Catalog:
    """The bundled default catalog alone (read once per process)."""
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

    currency: _Entry[str] | None = None
    fallback: Fallback | None = None
    accelerators: dict[str, _Entry[Accelerator]] = {}
    instances: dict[str, _Entry[InstanceType]] = {}
    for doc, model in parsed:
        spec = model.spec
        if currency is None:
            currency = _Entry(spec.currency, doc, ("spec", "currency"))
        elif spec.currency != currency.value:
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
    catalog = Catalog(
        name=" + ".join(model.metadata.name for _, model in parsed),
        version=" + ".join(model.metadata.version for _, model in parsed),
        currency=currency.value,
        fallback=fallback,
        accelerators={model_id: defined.value for model_id, defined in accelerators.items()},
        instance_types={name: instance.value for name, instance in instances.items()},
        accelerator_aliases=aliases,
    )
    return catalog, problems


def _read(
    paths: Iterable[Path], *, include_bundled: bool
) -> tuple[list[Document], list[Problem], list[str]]:
    """Every document of the catalogs, the problems reading them, and the sources in order."""
    docs: list[Document] = []
    problems: list[Problem] = []
    sources: list[str] = []
    if include_bundled:
        sources.append(str(BUNDLED))
        text = BUNDLED.read_text(encoding="utf-8")
        docs.extend(documents.read_documents(text, source=sources[-1], exact_numbers=True))
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
                docs.extend(documents.read_files([file], exact_numbers=True))
            except InvalidInput as exc:
                problems.extend(exc.problems)
    return docs, problems, sources


def _validate(doc: Document) -> tuple[CatalogDocument | None, list[Problem]]:
    if not isinstance(doc.data, dict):
        message = "a catalog document must be a mapping (apiVersion, kind, metadata, spec)"
        return None, [doc.problem(message)]
    try:
        # By alias only: the file format is camelCase, and `cpu_hourly` in a file is a typo.
        model = CatalogDocument.model_validate(doc.data, by_alias=True, by_name=False)
    except ValidationError as exc:
        return None, documents.problems_from_validation(exc, doc)
    return model, _check(doc, model)


def _check(doc: Document, model: CatalogDocument) -> list[Problem]:
    """What the schema cannot say: uniqueness inside the document, spot above on-demand."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    aliases: dict[str, str] = {}
    for i, accelerator in enumerate(model.spec.accelerators):
        path: tuple[PathPart, ...] = ("spec", "accelerators", i)
        if accelerator.model in seen:
            problems.append(
                doc.problem(
                    f"duplicate accelerator model {accelerator.model!r} "
                    f"(also spec.accelerators[{seen[accelerator.model]}])",
                    (*path, "model"),
                )
            )
        seen.setdefault(accelerator.model, i)
        if accelerator.spot_hourly is not None and accelerator.spot_hourly > accelerator.hourly:
            problems.append(
                doc.problem(
                    f"spotHourly {accelerator.spot_hourly} is above hourly {accelerator.hourly} "
                    "(Spot is never dearer than on-demand; check the figures)",
                    (*path, "spotHourly"),
                )
            )
        for j, alias in enumerate(accelerator.aliases):
            owner = aliases.setdefault(alias.lower(), accelerator.model)
            if owner != accelerator.model:
                problems.append(
                    doc.problem(
                        f"alias {alias!r} already names accelerator model {owner!r}",
                        (*path, "aliases", j),
                    )
                )
    names: dict[str, int] = {}
    for i, instance in enumerate(model.spec.instance_types):
        path = ("spec", "instanceTypes", i)
        if instance.name in names:
            problems.append(
                doc.problem(
                    f"duplicate instance type {instance.name!r} "
                    f"(also spec.instanceTypes[{names[instance.name]}])",
                    (*path, "name"),
                )
            )
        names.setdefault(instance.name, i)
        if instance.spot_hourly is not None and instance.spot_hourly > instance.on_demand_hourly:
            problems.append(
                doc.problem(
                    f"spotHourly {instance.spot_hourly} is above onDemandHourly "
                    f"{instance.on_demand_hourly} (Spot is never dearer than on-demand; "
                    "check the figures)",
                    (*path, "spotHourly"),
                )
            )
    return problems
