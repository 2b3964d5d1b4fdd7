"""`costwarden audit -f DUMP`: who runs what, at what cost, against which rule, today.

Reads what already runs — a `kubectl get -A -o yaml` dump (Namespaces, PolicyExceptions
and the workloads: `kubectl get ns,pex,deploy,sts,ds,rs,job,cronjob,pod -A -o yaml`) — and
judges every workload as admission would judge it now, with the namespaces' labels and the
approved exceptions the dump holds. Each workload is counted once: an object whose
controller is in the dump too (a ReplicaSet's Deployment, a Job's CronJob, a Pod's
ReplicaSet) is its controller's, not counted again.

Reports the violations per rule (what would be denied or warned today), the exceptions and
their expiry (expired, expiring soon) and the objects still labelled for an exception that
no longer stands, the workloads the catalog cannot price, and showback: $/h and $/month by
cost centre, team, namespace, GPU model and capacity type, and the top workloads. Figures
are the high end of each estimate's range; a monthly figure nobody knows (a Job's) stays out
of the monthly totals, counted. `-o html` (or `--report FILE`) writes a self-contained page
with charts that opens without a server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from costwarden import documents, labels, namespaces, workloads
from costwarden.catalog.loading import load_catalog
from costwarden.cli import EXIT_OK, InputError, _html, _manifests, _report, _tables, _world, check
from costwarden.engine import wording
from costwarden.engine.ports import NamespaceLabels
from costwarden.engine.specs import parse_duration
from costwarden.policies import loading, sets

DIMENSIONS = {
    "costCentre": "cost centre",
    "team": "team",
    "namespace": "namespace",
    "gpuModel": "GPU model",
    "capacityType": "capacity type",
}
"""Showback dimensions (JSON key -> heading): those of the webhook's cost metrics."""


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        metavar="FILE|DIR|-",
        help="what runs: `kubectl get ... -A -o yaml` dumps or manifests (repeatable; - is stdin)",
    )
    source.add_argument(
        "--from-cluster",
        action="store_true",
        help="list what runs from the cluster (read-only, paginated), with the credentials "
        "kubectl would use (--kubeconfig, KUBECONFIG, the pod's service account, ~/.kube/config)",
    )
    _manifests.add_credentials_arguments(parser)
    _manifests.add_catalog_argument(parser)
    _manifests.add_policies_argument(parser)
    parser.add_argument(
        _manifests.NAMESPACE_LABELS_FLAG,
        dest="namespace_labels_file",
        type=Path,
        metavar="FILE",
        help="namespaces' labels, where the dump holds no Namespace objects (as for check)",
    )
    _manifests.add_now_argument(parser, what="audit")
    parser.add_argument(
        "--expiring-within",
        type=_duration,
        default=timedelta(days=7),
        metavar="DURATION",
        help="an exception ending sooner than this is reported as expiring (default: 7d)",
    )
    parser.add_argument(
        "--top", type=int, default=10, metavar="N", help="how many top workloads (default: 10)"
    )
    parser.add_argument(
        "--cost-centre-label",
        default=labels.COST_CENTRE,
        help=f"label naming the cost centre (default: {labels.COST_CENTRE})",
    )
    parser.add_argument(
        "--team-label", default=labels.TEAM, help=f"label naming the team (default: {labels.TEAM})"
    )
    _report.add_output_argument(parser, extra=("html",))
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="also write the HTML report to FILE"
    )
    parser.set_defaults(run=run)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Workload:
    """One workload as audited: who it is, what it costs, what the rules say."""

    checked: check.Checked
    dimensions: Mapping[str, str]
    """By the keys of `DIMENSIONS`."""

    @property
    def identity(self) -> dict[str, str]:
        return _report.identity(self.checked.obj)

    @property
    def title(self) -> str:
        return _report.title(self.checked.obj)

    @property
    def hourly(self) -> Decimal:
        """$/h, to the micro-unit: what every sum adds, so that totals are exact sums."""
        estimate = self.checked.verdict.estimate
        assert estimate is not None  # `check` keeps only what it could estimate
        return Decimal(_report.money(estimate.hourly.total))

    @property
    def monthly(self) -> Decimal | None:
        estimate = self.checked.verdict.estimate
        assert estimate is not None
        monthly: Decimal | None = estimate.monthly
        return None if monthly is None else Decimal(_report.money(monthly))

    @property
    def gpus(self) -> Decimal:
        estimate = self.checked.verdict.estimate
        assert estimate is not None
        return estimate.accelerator_devices

    @property
    def unpriced(self) -> tuple[str, ...]:
        estimate = self.checked.verdict.estimate
        assert estimate is not None
        return tuple(estimate.pod.unpriced)


@dataclass(slots=True)
class Sum:
    """Figures added up over a group of workloads."""

    hourly: Decimal = Decimal(0)
    monthly: Decimal = Decimal(0)
    monthly_unknown: int = 0
    gpus: Decimal = Decimal(0)
    objects: int = 0

    def add(self, workload: Workload) -> None:
        self.hourly += workload.hourly
        monthly = workload.monthly
        if monthly is None:
            self.monthly_unknown += 1
        else:
            self.monthly += monthly
        self.gpus += workload.gpus
        self.objects += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "gpus": _report.quantity(self.gpus),
            "hourly": _report.money(self.hourly),
            "monthly": _report.money(self.monthly),
            "monthlyUnknown": self.monthly_unknown,
        }


@dataclass(frozen=True, slots=True)
class ExceptionState:
    name: str
    namespace: str | None
    rules: tuple[str, ...]
    expires: datetime
    status: str
    """`active`, `expiring` (within --expiring-within) or `expired`."""
    approved_by: str | None
    reason: str
    waives: tuple[str, ...]
    """The workloads it waives a rule for today."""


@dataclass(frozen=True, slots=True)
class StaleLabel:
    """A workload labelled for an exception that waives nothing now."""

    workload: str
    label: str
    value: str
    why: str


@dataclass(slots=True)
class Audit:
    now: datetime
    catalog: str
    currency: str
    workloads: list[Workload]
    exceptions: list[ExceptionState] = field(default_factory=list)
    stale_labels: list[StaleLabel] = field(default_factory=list)
    top: int = 10

    @property
    def total(self) -> Sum:
        total = Sum()
        for workload in self.workloads:
            total.add(workload)
        return total

    def showback(self, dimension: str) -> list[tuple[str, Sum]]:
        """Groups of `dimension`, dearest first."""
        groups: dict[str, Sum] = {}
        for workload in self.workloads:
            groups.setdefault(workload.dimensions[dimension], Sum()).add(workload)
        return sorted(groups.items(), key=lambda item: (-item[1].hourly, item[0]))

    def gpu_matrix(self) -> dict[tuple[str, str], Sum]:
        """$/h by (GPU model, capacity type), over workloads that run accelerators."""
        cells: dict[tuple[str, str], Sum] = {}
        for workload in self.workloads:
            if workload.gpus:
                key = (workload.dimensions["gpuModel"], workload.dimensions["capacityType"])
                cells.setdefault(key, Sum()).add(workload)
        return cells

    def top_workloads(self) -> list[Workload]:
        return sorted(self.workloads, key=lambda w: (-w.hourly, w.title))[: self.top]

    def violations_by_rule(self) -> list[dict[str, Any]]:
        rules: dict[tuple[str, str], dict[str, Any]] = {}
        for workload in self.workloads:
            for violation in workload.checked.verdict.violations:
                entry = rules.setdefault(
                    (violation.policy, violation.rule),
                    {
                        "policy": violation.policy,
                        "rule": violation.rule,
                        "deny": 0,
                        "warn": 0,
                        "dryrun": 0,
                        "objects": [],
                    },
                )
                entry[violation.action] += 1
                entry["objects"].append(workload.title)
        return sorted(rules.values(), key=lambda e: (-e["deny"], -e["warn"], e["rule"]))

    def unpriced(self) -> list[Workload]:
        return [workload for workload in self.workloads if workload.unpriced]


def run(args: argparse.Namespace) -> int:
    try:
        docs = documents.read_files(args.files) if args.files else [_from_cluster(args)]
        audit = audit_documents(
            docs,
            policy_files=args.policies,
            catalog_files=args.catalog,
            labels_file=args.namespace_labels_file,
            now=args.now or datetime.now(UTC),
            expiring_within=args.expiring_within,
            cost_labels=(args.cost_centre_label, args.team_label),
            top=args.top,
        )
    except documents.InvalidInput as exc:
        raise InputError(str(exc)) from None
    if args.report is not None:
        args.report.write_text(_html.report(audit, sections(audit)), encoding="utf-8")
    if args.output in ("json", "yaml"):
        print(_report.emit(as_json(audit), args.output))
    elif args.output == "html":
        print(_html.report(audit, sections(audit)))
    elif args.output == "markdown":
        print(as_markdown(audit))
    else:
        print(as_table(audit))
    return EXIT_OK


def _from_cluster(args: argparse.Namespace) -> documents.Document:
    """What runs in the cluster, as one `kind: List` document (a dump read live)."""
    from costwarden.kube import listing  # only when asked: the client is heavy

    credentials = _manifests.cluster_credentials(args)
    show = _Progress(sys.stderr)
    try:
        items = list(
            listing.list_all(
                listing.fetcher(credentials),
                progress=show.read,
                skipped=lambda resource, why: show.say(f"{resource.plural}: {why}, skipped"),
            )
        )
    except (listing.Forbidden, listing.ListingError) as exc:
        raise InputError(str(exc)) from None
    finally:
        show.done()
    data = {"apiVersion": "v1", "kind": "List", "items": items}
    return documents.Document(source=f"cluster {credentials.host}", index=0, data=data)


class _Progress:
    """`listing pods… 1,500` on one line of a terminal; nothing when stderr is a file."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._live = bool(getattr(stream, "isatty", lambda: False)())

    def read(self, resource: Any, count: int) -> None:
        if self._live:
            self._stream.write(f"\r\033[Klisting {resource.plural}… {count:,}")
            self._stream.flush()

    def say(self, line: str) -> None:
        self.done()
        print(line, file=self._stream)

    def done(self) -> None:
        if self._live:
            self._stream.write("\r\033[K")
            self._stream.flush()


def audit_documents(
    docs: Sequence[documents.Document],
    *,
    policy_files: Sequence[Path] = (),
    catalog_files: Sequence[Path] = (),
    labels_file: Path | None = None,
    now: datetime,
    expiring_within: timedelta = timedelta(days=7),
    cost_labels: tuple[str, str] = (labels.COST_CENTRE, labels.TEAM),
    top: int = 10,
) -> Audit:
    """The audit of the objects in `docs`; raises InvalidInput (or InputError) for bad
    input and when they hold no workload."""
    policies = loading.load_policies(policy_files) if policy_files else loading.bundled_policies()
    catalog = load_catalog(catalog_files)
    manifests, problems = _manifests.from_documents(docs)
    known = dict(namespaces.load([labels_file])) if labels_file else {}
    policies, context = _world.judged_in(
        manifests, problems, policies=policies, labels=known, now=now
    )
    roots = counted_once([m for m in manifests if m.obj["kind"] in workloads.WORKLOAD_KINDS])
    if not roots and not problems:
        sources = ", ".join(dict.fromkeys(doc.source for doc in docs)) or "the input"
        raise InputError(f"{sources}: no workloads (Pods, Deployments, Jobs, ...) to audit")
    checked = check.check_manifests(
        roots, policies=policies, catalog=catalog, context=context, problems=problems
    )
    audited = [
        Workload(checked=item, dimensions=dimensions(item, context.namespaces, cost_labels))
        for item in checked
    ]
    audit = Audit(
        now=now,
        catalog=f"{catalog.name} {catalog.version}",
        currency=catalog.currency,
        workloads=audited,
        top=top,
    )
    audit.exceptions = exception_states(policies, audited, now=now, within=expiring_within)
    audit.stale_labels = stale_labels(policies, audited, now=now)
    return audit


def counted_once(manifests: Sequence[_manifests.Manifest]) -> list[_manifests.Manifest]:
    """The manifests whose controller is not among them: a Deployment, not its ReplicaSets
    or their Pods; a bare Pod, or Pods whose controller the dump does not hold. An object
    read twice (two dumps that overlap) counts once: the first read."""
    present_uids = set()
    present_names = set()
    for manifest in manifests:
        metadata = manifest.obj.get("metadata") or {}
        if isinstance(metadata, Mapping):
            if metadata.get("uid"):
                present_uids.add(metadata["uid"])
            present_names.add(
                (manifest.obj["kind"], metadata.get("namespace"), metadata.get("name"))
            )
    kept = []
    seen = set()
    for manifest in manifests:
        metadata = manifest.obj.get("metadata") or {}
        if isinstance(metadata, Mapping):
            key = (manifest.obj["kind"], metadata.get("namespace"), metadata.get("name"))
            if metadata.get("name") and key in seen:
                continue
            seen.add(key)
        owners = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
        controller = next(
            (
                owner
                for owner in owners or ()
                if isinstance(owner, Mapping) and owner.get("controller") is True
            ),
            None,
        )
        if controller is not None and (
            controller.get("uid") in present_uids
            or (controller.get("kind"), metadata.get("namespace"), controller.get("name"))
            in present_names
        ):
            continue
        kept.append(manifest)
    return kept


def dimensions(
    item: check.Checked,
    namespaces: NamespaceLabels,
    cost_labels: tuple[str, str],
) -> dict[str, str]:
    """Where a workload's cost shows back: its own labels (its pods' first), else its
    namespace's, as the webhook's cost metrics group it."""
    obj = item.obj
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    own = _labels_of(obj)
    inherited = namespaces.labels_for(namespace) or {}
    estimate = item.verdict.estimate
    assert estimate is not None
    placement = estimate.pod.placement

    def label(key: str) -> str:
        return str(own.get(key) or inherited.get(key) or labels.NONE)

    cost_centre, team = cost_labels
    return {
        "costCentre": label(cost_centre),
        "team": label(team),
        "namespace": namespace,
        "gpuModel": placement.accelerator_model or labels.NONE,
        "capacityType": placement.capacity_type,
    }


def _labels_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A workload's labels and its pods' (theirs first: pods are what runs and is charged)."""
    metadata = obj.get("metadata") or {}
    template = workloads.pod_template(obj)
    pod_labels = (template.metadata.get("labels") or {}) if template is not None else {}
    return {**(metadata.get("labels") or {}), **pod_labels}


def exception_states(
    policies: sets.PolicySet,
    audited: Sequence[Workload],
    *,
    now: datetime,
    within: timedelta,
) -> list[ExceptionState]:
    """Every exception the policies and the dump hold, with its state and what it waives."""
    states = []
    for exception in policies.compiled_exceptions:
        if exception.expires <= now:
            status = "expired"
        elif exception.expires - now <= within:
            status = "expiring"
        else:
            status = "active"
        waives = tuple(
            workload.title
            for workload in audited
            if any(exception.title in e.exception for e in workload.checked.verdict.exempted)
        )
        states.append(
            ExceptionState(
                name=exception.name,
                namespace=exception.namespace,
                rules=tuple(sorted(exception.rules)),
                expires=exception.expires,
                status=status,
                approved_by=exception.approved_by,
                reason=exception.reason,
                waives=waives,
            )
        )
    return sorted(states, key=lambda s: (s.expires, s.name))


def stale_labels(
    policies: sets.PolicySet, audited: Sequence[Workload], *, now: datetime
) -> list[StaleLabel]:
    """Workloads whose exception label names an exception that has expired, or none at all."""
    found = []
    for workload in audited:
        own = _labels_of(workload.checked.obj)
        namespace = workload.identity["namespace"]
        for key in sorted(policies.exception_label_keys):
            value = own.get(key)
            if not isinstance(value, str):
                continue
            named = [
                e
                for e in policies.compiled_exceptions
                if value in e.tickets and e.namespace in (None, namespace)
            ]
            if not named:
                why = "no exception names it"
            elif all(e.expires <= now for e in named):
                ended = max(e.expires for e in named)
                why = f"{named[0].title} expired {wording.day(ended)}"
            else:
                continue
            found.append(StaleLabel(workload.title, key, value, why))
    return found


def as_json(audit: Audit) -> dict[str, Any]:
    """The machine-readable audit; money and quantities as decimal strings."""
    estimates = [w.checked.verdict.estimate for w in audit.workloads]
    return {
        "report": "audit",
        "asOf": audit.now.astimezone(UTC).isoformat(),
        "catalog": audit.catalog,
        "currency": audit.currency,
        "total": _report.totals([e for e in estimates if e is not None]),
        "showback": {
            key: [{"group": group, **figures.as_json()} for group, figures in audit.showback(key)]
            for key in DIMENSIONS
        },
        "gpuModelByCapacityType": [
            {"gpuModel": model, "capacityType": capacity, **figures.as_json()}
            for (model, capacity), figures in sorted(audit.gpu_matrix().items())
        ],
        "topWorkloads": [w.title for w in audit.top_workloads()],
        "violationsByRule": audit.violations_by_rule(),
        "exceptions": [
            {
                "name": s.name,
                "namespace": s.namespace,
                "rules": list(s.rules),
                "expires": s.expires.astimezone(UTC).isoformat(),
                "status": s.status,
                "approvedBy": s.approved_by,
                "reason": s.reason,
                "waives": list(s.waives),
            }
            for s in audit.exceptions
        ],
        "staleExceptionLabels": [
            {"object": s.workload, "label": s.label, "value": s.value, "why": s.why}
            for s in audit.stale_labels
        ],
        "unpriced": [{"object": w.title, "reasons": list(w.unpriced)} for w in audit.unpriced()],
        "objects": [_workload_json(w) for w in audit.workloads],
    }


def _workload_json(workload: Workload) -> dict[str, Any]:
    checked = workload.checked
    return {
        **_report.judged(checked.obj, checked.verdict, source=checked.source),
        "dimensions": dict(workload.dimensions),
    }


def _money(audit: Audit, amount: Decimal) -> str:
    return wording.money(amount, audit.currency)


def _monthly(audit: Audit, figures: Sum) -> str:
    text = _money(audit, figures.monthly)
    return f"{text} (+{figures.monthly_unknown} unknown)" if figures.monthly_unknown else text


def sections(audit: Audit) -> Iterable[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
    """The report's tables as (title, headers, rows): what table and Markdown print."""
    figures_headers = ("$/H", "$/MONTH", "GPUS", "OBJECTS")
    rows: list[tuple[str, ...]]
    for key, heading in DIMENSIONS.items():
        rows = [
            (
                group,
                _money(audit, s.hourly),
                _monthly(audit, s),
                wording.number(s.gpus),
                str(s.objects),
            )
            for group, s in audit.showback(key)
        ]
        yield f"Showback by {heading}", (heading.upper(), *figures_headers), rows
    rows = [
        (
            w.title,
            _money(audit, w.hourly),
            "unknown" if w.monthly is None else _money(audit, w.monthly),
            wording.number(w.gpus),
            w.checked.verdict.outcome,
        )
        for w in audit.top_workloads()
    ]
    yield "Top workloads", ("WORKLOAD", "$/H", "$/MONTH", "GPUS", "VERDICT"), rows
    rows = [
        (str(e["rule"]), str(e["deny"]), str(e["warn"]), _some(e["objects"]))
        for e in audit.violations_by_rule()
    ]
    yield (
        "Violations by rule (what admission would say today)",
        ("RULE", "DENY", "WARN", "WORKLOADS"),
        rows,
    )
    rows = [
        (
            f"{s.namespace}/{s.name}" if s.namespace else s.name,
            ", ".join(s.rules),
            wording.day(s.expires),
            s.status,
            ", ".join(s.waives) or "nothing",
        )
        for s in audit.exceptions
    ]
    yield "Exceptions", ("EXCEPTION", "RULES", "EXPIRES", "STATE", "WAIVES"), rows
    rows = [(s.workload, f"{s.label}={s.value}", s.why) for s in audit.stale_labels]
    yield "Labelled for an exception that waives nothing", ("WORKLOAD", "LABEL", "WHY"), rows
    rows = [(w.title, "; ".join(w.unpriced)) for w in audit.unpriced()]
    yield (
        "Unpriced (figures are what the catalog could price: a lower bound)",
        ("WORKLOAD", "WHAT THE CATALOG LACKS"),
        rows,
    )


def _some(names: Sequence[str], shown: int = 3) -> str:
    more = f", … (+{len(names) - shown})" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def summary(audit: Audit) -> str:
    total = audit.total
    denied = sum(1 for w in audit.workloads if not w.checked.verdict.allowed)
    warned = sum(
        1 for w in audit.workloads if w.checked.verdict.allowed and w.checked.verdict.warnings
    )
    return (
        f"{total.objects} workloads, {_money(audit, total.hourly)}/h, "
        f"{_monthly(audit, total)}/month, {wording.number(total.gpus)} GPUs; "
        f"{denied} would be denied today, {warned} warned, {len(audit.unpriced())} unpriced"
    )


def as_table(audit: Audit) -> str:
    lines = [
        f"Audit as of {wording.day(audit.now)} — catalog {audit.catalog}, {audit.currency}",
        summary(audit),
    ]
    for title, headers, rows in sections(audit):
        lines += ["", f"{title}:"]
        if not rows:
            lines.append("  none")
            continue
        table = _tables.Table(headers, right=("$/H", "$/MONTH", "GPUS", "OBJECTS", "DENY", "WARN"))
        for row in rows:
            table.add(*row)
        lines += [f"  {line}" for line in table.lines()]
    return "\n".join(lines)


def as_markdown(audit: Audit) -> str:
    lines = [
        f"## costwarden audit — {wording.day(audit.now)}",
        "",
        f"**{summary(audit)}**",
        f"<sub>catalog {audit.catalog}, {audit.currency}</sub>",
    ]
    for title, headers, rows in sections(audit):
        lines += ["", f"### {title}", ""]
        if not rows:
            lines.append("None.")
            continue
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
