"""`costwarden estimate`: what manifests will cost per hour and month, before they are applied.

Reads multi-document YAML/JSON files, directories and stdin (`kind: List` items too),
prices every object that runs pods against the catalog and prints an infracost-style table
(one row per object, its cpu / memory / accelerator breakdown and the assumptions made)
and a total; `-o json` prints the same for machines, money as decimal strings. Where the
estimate is a range its two ends are shown (`0.5300–6.2600`, the breakdown is the high end)
with the reasons; where the catalog lacks a price the row says `unpriced` and what is
missing. Objects
that run no pods are listed as skipped. Unreadable or invalid manifests exit 2 naming
file, document, path and line.

Display rounding (the model never rounds): $/h to 4 places in the table and 6 in JSON,
$/month to 2, half up, each figure rounded from the exact value — so rounded rows may
differ from the rounded total by a cent.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costwarden import cli, documents, estimating, workloads
from costwarden.catalog import loading
from costwarden.catalog.models import Catalog
from costwarden.cli import _manifests, _report, _tables
from costwarden.documents import InvalidInput, Problem
from costwarden.engine import wording
from costwarden.estimating.estimates import (
    HOURS_PER_MONTH,
    WorkloadEstimate,
)

_CENT = Decimal("0.01")


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Estimate the hourly and monthly cost of Pods and the workloads that run them "
        "(Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob, "
        "ReplicationController) from a price catalog, with a cpu/memory/accelerator "
        "breakdown and every assumption made. Exit 2 on unreadable or invalid input."
    )
    _manifests.add_arguments(parser, what="price")
    parser.add_argument(
        "--no-bundled-catalog",
        dest="include_bundled",
        action="store_false",
        help="price against the --catalog files alone",
    )
    _report.add_output_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        catalog = loading.load_catalog(args.catalog, include_bundled=args.include_bundled)
        manifests, problems = _manifests.read(args.files)
        report = estimate_manifests(manifests, catalog=catalog, problems=problems)
    except InvalidInput as exc:
        raise cli.InputError(str(exc)) from None
    if not report.rows:  # objects read and none runs pods: files mistaken for manifests
        kinds = sorted({skipped.kind for skipped in report.skipped})
        sources = sorted({skipped.source for skipped in report.skipped})
        raise cli.InputError(
            f"{', '.join(sources)}: no object that runs pods among the {len(report.skipped)} "
            f"read (kinds: {', '.join(kinds)}): nothing was priced"
        )
    if args.output in ("json", "yaml"):
        print(_report.emit(as_json(report), args.output))
    elif args.output == "markdown":
        print(render_markdown(report))
    else:
        print(render_table(report))
    return cli.EXIT_OK


@dataclass(frozen=True, slots=True)
class Row:
    """One priced object and where it was read."""

    source: str
    document: int
    path: str
    """JSON path of the object inside its document ("" unless a `List` item)."""
    obj: Mapping[str, Any]
    estimate: WorkloadEstimate


@dataclass(frozen=True, slots=True)
class Skipped:
    source: str
    document: int
    obj: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return _report.identity(self.obj)["kind"]

    @property
    def name(self) -> str:
        return _report.identity(self.obj)["name"]


@dataclass(frozen=True, slots=True)
class Report:
    catalog: Catalog
    rows: tuple[Row, ...]
    skipped: tuple[Skipped, ...]

    @property
    def hourly(self) -> Decimal:
        """The high end: the sum of every object's high end (what is priced of the unpriced)."""
        return sum((row.estimate.hourly.total for row in self.rows), Decimal(0))

    @property
    def low_hourly(self) -> Decimal:
        return sum((row.estimate.low_hourly.total for row in self.rows), Decimal(0))

    @property
    def low_monthly(self) -> Decimal:
        """The low end of the monthly figures known."""
        return sum(
            (
                row.estimate.low_hourly.total * hours
                for row in self.rows
                if (hours := row.estimate.hours_per_month) is not None
            ),
            Decimal(0),
        )

    @property
    def unpriced(self) -> tuple[WorkloadEstimate, ...]:
        """Objects the catalog cannot price: their figures are lower bounds."""
        return tuple(row.estimate for row in self.rows if row.estimate.unpriced)

    @property
    def monthly(self) -> Decimal:
        """The monthly figures known (a Job's or a CronJob's may not be: `unknown_monthly`)."""
        known = (row.estimate.monthly for row in self.rows)
        return sum((m for m in known if m is not None), Decimal(0))

    @property
    def unknown_monthly(self) -> tuple[WorkloadEstimate, ...]:
        """Objects whose hours a month are unknown, left out of `monthly`."""
        return tuple(row.estimate for row in self.rows if row.estimate.monthly is None)

    @property
    def pods(self) -> Decimal:
        return sum((row.estimate.pods for row in self.rows), Decimal(0))

    @property
    def accelerator_devices(self) -> Decimal:
        return sum((row.estimate.accelerator_devices for row in self.rows), Decimal(0))


def estimate_manifests(
    manifests: Sequence[_manifests.Manifest],
    *,
    catalog: Catalog,
    problems: Sequence[Problem] = (),
) -> Report:
    """Every object priced; raises `InvalidInput` listing every malformed one (with the
    `problems` found while reading)."""
    rows: list[Row] = []
    skipped: list[Skipped] = []
    problems = list(problems)
    dra = _manifests.dra_objects(manifests, problems)  # what the pods' claims name
    for manifest in manifests:
        doc, obj = manifest.document, manifest.obj
        try:
            estimate = estimating.estimate_object(obj, catalog=catalog, dra=dra)
        except workloads.InvalidObject as exc:
            problems.append(manifest.problem(exc.message, exc.path))
            continue
        if estimate is None:
            skipped.append(Skipped(doc.source, doc.index, obj))
        else:
            path = documents.format_path(manifest.path)
            rows.append(Row(doc.source, doc.index, path, obj, estimate))
    if problems:
        raise InvalidInput(problems)
    return Report(catalog=catalog, rows=tuple(rows), skipped=tuple(skipped))


# --- rendering ---------------------------------------------------------------------------


def _count(value: Decimal) -> str:
    """Pods and devices: whole numbers as such, fractions (MIG, shared GPUs) to 2 places."""
    if value == value.to_integral_value():
        return f"{value:.0f}"
    return f"{wording.rounded(value, 2).normalize():f}"


def _hourly(value: Decimal) -> str:
    return f"{wording.rounded(value, 4):,.4f}"


def _monthly(value: Decimal, hours: Decimal | None = HOURS_PER_MONTH) -> str:
    """$/h × the hours a month; "-" when those are unknown (a Job, a CronJob's run length)."""
    return "-" if hours is None else f"{wording.rounded(value * hours, 2):,.2f}"


_HEADERS = ("NAME", "KIND", "NAMESPACE", "PODS", "GPUS", "GPU MODEL", "CAPACITY", "$/H", "$/MONTH")
_RIGHT = {"PODS", "GPUS", "$/H", "$/MONTH"}


def cost_table(report: Report) -> tuple[_tables.Table, list[list[Part | str]]]:
    """The table of every object and the TOTAL, and each object's details (breakdown
    parts and notes)."""
    table = _tables.Table(_HEADERS, right=_RIGHT)
    details: list[list[Part | str]] = []
    for row in report.rows:
        estimate = row.estimate
        pod = estimate.pod
        table.add(
            estimate.name,
            estimate.kind,
            estimate.namespace or "-",
            _count(estimate.pods),
            _count(estimate.accelerator_devices) if pod.requests.accelerators else "-",
            _models(estimate),
            pod.placement.capacity_type,
            *_figures(estimate),
        )
        details.append(_details(estimate))
    table.add(
        "TOTAL",
        "",
        "",
        _count(report.pods),
        _count(report.accelerator_devices),
        "",
        "",
        _span(report.low_hourly, report.hourly, _hourly),
        _span(report.low_monthly, report.monthly, _money),
    )
    return table, details


def render_markdown(report: Report) -> str:
    """The table as Markdown, each object's notes as a list below it."""
    catalog = report.catalog
    table, details = cost_table(report)
    lines = [
        "### costwarden estimate",
        "",
        f"catalog {catalog.name} {catalog.version}, {catalog.currency}",
        "",
        *table.markdown(),
    ]
    for row, detail in zip(report.rows, details, strict=True):
        notes = [item for item in detail if isinstance(item, str)]
        if notes:
            estimate = row.estimate
            lines += ["", f"**{estimate.kind} {estimate.name}**", ""]
            lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def render_table(report: Report) -> str:
    catalog = report.catalog
    lines = [
        f"Cost estimate — catalog {catalog.name} {catalog.version}, {catalog.currency}, "
        f"{HOURS_PER_MONTH} h/month",
        "",
    ]
    table, details = cost_table(report)
    hours = [row.estimate.hours_per_month for row in report.rows]  # for the parts' $/month
    widths = table.widths
    # A part's description spans the columns left of the figures, wrapped if longer.
    label_width = sum(widths[:-2]) + 2 * (len(_HEADERS) - 3)
    header, *rows, total = table.lines()
    lines.append(header)
    for text, detail, month in zip(rows, details, hours, strict=True):
        lines.append(text)
        for item in detail:
            if isinstance(item, str):
                lines.append(f"     · {item}")
                continue
            prefix = f"  {item.branch:<16}"
            first, *rest = textwrap.wrap(
                item.description,
                label_width,
                initial_indent=prefix,
                subsequent_indent=" " * len(prefix),
                break_on_hyphens=False,
            )
            lines.append(
                f"{first.ljust(label_width)}  "
                f"{_hourly(item.hourly).rjust(widths[-2])}  "
                f"{_monthly(item.hourly, month).rjust(widths[-1])}"
            )
            lines.extend(rest)
    lines.append("")
    if report.unknown_monthly:
        names = ", ".join(f"{e.kind} {e.name}" for e in report.unknown_monthly)
        lines.append(f"$/MONTH total leaves out {names} (no monthly figure: see its notes)")
    if report.unpriced:
        names = ", ".join(f"{e.kind} {e.name}" for e in report.unpriced)
        lines.append(f"TOTAL counts only what is priced of {names} (unpriced: see its notes)")
    lines.append(total)
    if report.skipped:
        lines.append("")
        lines.append("Skipped (run no pods):")
        lines.extend(
            f"  {s.kind}/{s.name or '-'} ({s.source}, document {s.document})"
            for s in report.skipped
        )
    return "\n".join(lines)


def _money(value: Decimal) -> str:
    return f"{wording.rounded(value, 2):,.2f}"


def _span(low: Decimal, high: Decimal, show: Callable[[Decimal], str]) -> str:
    """`0.5300–6.2600`, or one figure when the ends show alike."""
    low_text, high_text = show(low), show(high)
    return high_text if low_text == high_text else f"{low_text}–{high_text}"


def _figures(estimate: WorkloadEstimate) -> tuple[str, str]:
    """$/h and $/month of a row: a range's two ends, `unpriced` when the catalog lacks a
    price (what it does price is in the breakdown, a lower bound)."""
    if estimate.unpriced:
        return "unpriced", "unpriced"
    low, high = estimate.low_hourly.total, estimate.hourly.total
    hours = estimate.hours_per_month
    monthly = "-" if hours is None else _span(low * hours, high * hours, _money)
    return _span(low, high, _hourly), monthly


def _models(estimate: WorkloadEstimate) -> str:
    """The GPU model priced, `t4–h100-80gb` for the two ends of a range of models."""
    pod = estimate.pod
    high = pod.placement.accelerator_model
    low = (pod.low_placement or pod.placement).accelerator_model
    if high and low and low != high:
        return f"{low}–{high}"
    return high or "-"


@dataclass(frozen=True, slots=True)
class Part:
    """One line of an object's cost breakdown: `├─ cpu  8 vCPU per pod ...  $/h  $/month`."""

    branch: str
    description: str
    hourly: Decimal


def _details(estimate: WorkloadEstimate) -> list[Part | str]:
    pod = estimate.pod
    requests = pod.requests
    hourly = estimate.hourly
    where = f" on {pod.placement.instance_type}" if pod.placement.instance_type else ""
    per_pod = " per pod" if estimate.pods != 1 else ""
    accelerators = ", ".join(f"{a.count} × {a.resource}" for a in requests.accelerators)
    lines: list[Part | str] = [
        Part("├─ cpu", f"{_count(requests.cpu)} vCPU{per_pod}{where}", hourly.cpu),
        Part("├─ memory", f"{_count(requests.memory_gib)} GiB{per_pod}", hourly.memory),
        Part(
            "└─ accelerator",
            f"{accelerators or 'none'}{per_pod if accelerators else ''}",
            hourly.accelerator,
        ),
    ]
    if pod.unpriced:
        lines.extend(f"unpriced: {why} — {wording.ADD_A_PRICE}" for why in pod.unpriced)
    elif pod.ranged:
        low = pod.low_placement or pod.placement
        where = " ".join(filter(None, (low.instance_type, low.accelerator_model)))
        lines.append(
            f"range: low end ${_hourly(estimate.low_hourly.total)}/h"
            f"{f' ({where})' if where else ''}; the breakdown above is the high end"
        )
        lines.extend(f"range: {why}" for why in pod.range_reasons)
    lines.extend(estimate.assumptions)
    if estimate.runs is not None:
        lines.append(_runs(estimate))
    lines.extend(pod.assumptions)
    return lines


def _runs(estimate: WorkloadEstimate) -> str:
    """`per run $11.63, per month $353.74: 30.42 runs/month ('0 2 * * *' UTC); 4 h a run ...`"""
    assert estimate.runs is not None
    per_run, monthly = estimate.per_run, estimate.monthly
    figures = []
    if per_run is not None:
        figures.append(f"per run ${wording.rounded(per_run, 2):,.2f}")
    if monthly is not None:
        figures.append(f"per month ${wording.rounded(monthly, 2):,.2f}")
    said = estimate.runs.describe()
    return f"{', '.join(figures)}: {said}" if figures else said


def as_json(report: Report) -> dict[str, Any]:
    """The `estimate` report of the one output contract (`_report`, docs/output.md)."""
    catalog = report.catalog
    return {
        "report": "estimate",
        "catalog": {
            "name": catalog.name,
            "version": catalog.version,
            "currency": catalog.currency,
        },
        "objects": [
            {
                "identity": _report.identity(row.obj),
                "source": row.source,
                "document": row.document,
                "path": row.path,
                "estimate": _report.estimate(row.estimate),
            }
            for row in report.rows
        ],
        "skipped": [
            {
                "identity": _report.identity(s.obj),
                "source": s.source,
                "document": s.document,
                "reason": "runs no pods",
            }
            for s in report.skipped
        ],
        "total": _report.totals([row.estimate for row in report.rows]),
    }
