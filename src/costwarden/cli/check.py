"""`costwarden check -f FILE|DIR|-`: judge manifests as admission would, before a cluster does.

Each object is evaluated as a CREATE by the same engine the webhook runs. Namespace labels
come from `--namespace-labels-file` (a map, or what `kubectl get namespaces -o yaml`
prints) or `--from-cluster` (a read-only list of the cluster's namespaces), and from
Namespace objects among the manifests. A rule that reads the labels of a namespace none of
these gave — a label the pod may inherit from it, a namespaceSelector — says "not
checked", never a false denial; `--require-namespaces` makes such a namespace an error.

Prints violations, warnings, exceptions, notices and the cost table (`-o json` for
machines); colour on a terminal, unless NO_COLOR is set. Budgets need spend data, which
`check` does not have: budget rules are reported as not checked.

Exit status: 0 allowed; 1 anything denied (with `--fail-on warn`, warned too); 2 unreadable
or invalid input, nothing to check, or (with `--require-namespaces`) namespaces whose labels
are unknown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costwarden import documents, namespaces, reviews, workloads
from costwarden.catalog.loading import load_catalog
from costwarden.catalog.models import Catalog
from costwarden.cli import (
    EXIT_DENIED,
    EXIT_OK,
    InputError,
    _colour,
    _manifests,
    _report,
    _tables,
    _world,
)
from costwarden.engine import evaluating, wording
from costwarden.engine.contexts import Context
from costwarden.engine.ports import NamespaceLabels
from costwarden.engine.verdicts import Verdict
from costwarden.estimating import claims
from costwarden.estimating.estimates import PodEstimate
from costwarden.policies import loading, sets


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    _manifests.add_arguments(parser, what="check")
    _manifests.add_policies_argument(parser)
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        _manifests.NAMESPACE_LABELS_FLAG,
        dest="namespace_labels_file",
        type=Path,
        metavar="FILE",
        help="the namespaces' labels in the cluster: a map {namespace: {label: value}}, or "
        "Namespace objects as `kubectl get namespaces -o yaml` prints them",
    )
    labels.add_argument(
        "--from-cluster",
        action="store_true",
        help="read the namespaces' labels from the cluster (one read-only list of "
        "namespaces), with the credentials kubectl would use: --kubeconfig, KUBECONFIG, the "
        "pod's service account, ~/.kube/config",
    )
    _manifests.add_credentials_arguments(parser)
    _manifests.add_namespace_labels_alias(parser, dest="namespace_labels_file")
    parser.add_argument(
        "--require-namespaces",
        action="store_true",
        help="exit 2 naming the objects' namespaces whose labels are unknown, rather than "
        "report the rules that read them as not checked (strict CI)",
    )
    _manifests.add_now_argument(parser, what="evaluate")
    parser.add_argument(
        "--fail-on",
        choices=("deny", "warn"),
        default="deny",
        help="exit 1 when anything is denied (deny), or also when anything is warned (warn)",
    )
    _report.add_output_argument(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Checked:
    source: str
    obj: Mapping[str, Any]
    verdict: Verdict


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except documents.InvalidInput as exc:
        raise InputError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    policies = loading.load_policies(args.policies) if args.policies else None
    policy_set = policies if policies is not None else loading.bundled_policies()
    catalog = load_catalog(args.catalog)
    manifests, problems = _manifests.read(args.files)
    # The file or the cluster says how the cluster is; Namespace objects, the rest.
    policy_set, context = _world.judged_in(
        manifests,
        problems,
        policies=policy_set,
        labels=_namespaces_given(args),
        now=args.now or datetime.now(UTC),
    )
    known = context.namespaces
    checked = check_manifests(
        manifests, policies=policy_set, catalog=catalog, context=context, problems=problems
    )
    if not checked:
        _nothing_checked(manifests)
    if args.require_namespaces:
        _require_namespaces(checked, known)
    if args.output in ("json", "yaml"):
        print(_report.emit(as_json(checked), args.output))
    elif args.output == "markdown":
        print(as_markdown(checked))
    else:
        with _colour.painted(sys.stdout):
            print_table(checked)
        unknown = _unknown_namespaces(checked, known)
        if unknown:
            print(f"\nnote: {_unknown(unknown)}: the rules that read them were not checked")
    return exit_status(checked, fail_on=args.fail_on)


def exit_status(checked: Sequence[Checked], *, fail_on: str = "deny") -> int:
    """1 when anything is denied — or, failing on `warn`, warned too; else 0."""
    if any(not c.verdict.allowed for c in checked):
        return EXIT_DENIED
    if fail_on == "warn" and any(c.verdict.warnings for c in checked):
        return EXIT_DENIED
    return EXIT_OK


def _namespaces_given(args: argparse.Namespace) -> namespaces.Labels:
    """The namespaces' labels from `--namespace-labels-file` or `--from-cluster`."""
    if (args.kubeconfig or args.kube_context) and not args.from_cluster:
        raise InputError("--kubeconfig and --kube-context go with --from-cluster")
    if args.from_cluster:
        if args.namespace_labels_file is not None:  # the hidden old spelling
            raise InputError(
                f"{_manifests.NAMESPACE_LABELS_ALIAS} and --from-cluster: give one of them"
            )
        return _from_cluster(args)
    path = args.namespace_labels_file
    if path is None:
        return {}
    labels = namespaces.load([path])
    if not labels:  # a labels file that names no namespace is a mistake, not "none labelled"
        raise InputError(
            f"{path}: no namespaces found: give a map {{namespace: {{label: value}}}} or "
            "Namespace objects (kubectl get namespaces -o yaml)"
        )
    return labels


def _from_cluster(args: argparse.Namespace) -> namespaces.Labels:
    """The cluster's namespaces' labels, listed once, read-only."""
    from costwarden.kube import namespace_list  # only when asked: the client is heavy

    credentials = _manifests.cluster_credentials(args)
    try:
        items = namespace_list.list_namespaces(credentials)
    except namespace_list.ListingFailed as exc:
        raise InputError(f"--from-cluster: {exc}") from None
    return namespaces.from_list(items, source=f"the namespaces listed at {credentials.host}")


def _nothing_checked(manifests: Sequence[_manifests.Manifest]) -> None:
    """Objects were read, and none runs pods: a gate pointed at the wrong files (policies,
    values, a chart of Services) checked nothing, and says so rather than pass."""
    kinds = sorted({str(manifest.obj["kind"]) for manifest in manifests})
    sources = sorted({manifest.document.source for manifest in manifests})
    raise InputError(
        f"{', '.join(sources)}: no object that runs pods among the {len(manifests)} read "
        f"(kinds: {', '.join(kinds)}): nothing was checked"
    )


def _require_namespaces(checked: Sequence[Checked], known: NamespaceLabels) -> None:
    """With `--require-namespaces`: every object's namespace has known labels."""
    unknown = _unknown_namespaces(checked, known)
    if unknown:
        raise InputError(f"{_unknown(unknown)} (--require-namespaces)")


def _unknown_namespaces(checked: Sequence[Checked], known: NamespaceLabels) -> list[str]:
    names = {_namespace(item.obj) for item in checked}
    return sorted(name for name in names if known.labels_for(name) is None)


def _unknown(names: Sequence[str]) -> str:
    return (
        f"labels of namespace{'s' if len(names) > 1 else ''} {', '.join(names)} unknown "
        "(give them with --namespace-labels-file, Namespace objects among the manifests "
        "or --from-cluster)"
    )


def _namespace(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


_NOT_WORKLOADS = frozenset({"Namespace", "PolicyException", *claims.KINDS})
"""Kinds among the manifests that describe the world `check` judges in, not what it judges."""
_NOT_JUDGED = (
    "a ResourceClaim pods share is charged here, once, not to them; no rule judges it (the "
    "webhook does not check ResourceClaims: docs/cost-model.md)"
)


def check_manifests(
    manifests: Sequence[_manifests.Manifest],
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    context: Context,
    problems: Sequence[documents.Problem] = (),
) -> list[Checked]:
    """The verdict on every object that runs pods; raises InputError listing every
    malformed one (with the `problems` found while reading)."""
    checked = []
    problems = list(problems)
    for index, manifest in enumerate(manifests):
        if manifest.obj["kind"] in _NOT_WORKLOADS:
            claim = claims.estimate_claim(
                manifest.obj, catalog=catalog, dra=context.dra, memos=context.memos
            )
            if claim is not None:  # shared by pods that are not charged for it: its own row
                verdict = Verdict(allowed=True, notices=(_NOT_JUDGED,), estimate=claim)
                checked.append(Checked(manifest.document.source, manifest.obj, verdict))
            continue
        request = reviews.request_for(manifest.obj, uid=f"check-{index}")
        try:
            verdict = evaluating.evaluate(
                request, policies=policies, catalog=catalog, context=context
            )
        except workloads.InvalidObject as exc:
            problems.append(manifest.problem(exc.message, exc.path))
            continue
        if verdict.estimate is not None:
            source = manifest.document.source
            checked.append(Checked(source=source, obj=manifest.obj, verdict=verdict))
    if problems:
        raise InputError("\n".join(str(p) for p in problems))
    return checked


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or "?"
    return f"{obj.get('kind')} {metadata.get('namespace') or 'default'}/{name}"


def print_table(checked: Sequence[Checked]) -> None:
    """The cost table, then what each rule said of each object."""
    print("\n".join(cost_table(checked).lines()))
    for item in checked:
        lines = [f"  {tag} {text}" for tag, text in said(item)]
        if lines:
            print(f"\n{_name(item.obj)} ({item.source})")
            print("\n".join(lines))


def as_markdown(checked: Sequence[Checked]) -> str:
    """A pull-request comment: the verdicts in one line, the cost table, what rules said."""
    counts = dict.fromkeys(("denied", "warned", "allowed"), 0)
    for item in checked:
        counts[item.verdict.outcome] += 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    lines = ["### costwarden check", "", f"**{len(checked)} objects: {summary}**", ""]
    lines += cost_table(checked).markdown()
    for item in checked:
        found = said(item)
        if found:
            lines += ["", f"**{_name(item.obj)}** ({item.source})", ""]
            lines += [f"- {tag.strip()} {text}" for tag, text in found]
    return "\n".join(lines)


def said(item: Checked) -> list[tuple[str, str]]:
    """(tag, text) for what each rule said of the object, and what the table cannot show."""
    verdict = item.verdict
    found = [("DENY ", v.message) for v in verdict.denials]
    found += [("WARN ", v.message) for v in verdict.warnings]
    found += [("DRYRUN", v.message) for v in verdict.violations if v.action == "dryrun"]
    found += [
        ("EXEMPT", f"[{e.rule}] {e.exception} until {wording.day(e.expires)}: {e.reason}")
        for e in verdict.exempted
    ]
    estimate = verdict.estimate
    if estimate is not None and estimate.unpriced:
        found.append(("UNPRICED", f"{'; '.join(estimate.unpriced)} — {wording.ADD_A_PRICE}"))
    found += [  # the estimate lines are the table's row
        ("NOTE ", notice) for notice in verdict.notices if not notice.startswith("costwarden: ")
    ]
    return found


def cost_table(checked: Sequence[Checked]) -> _tables.Table:
    """The cost table (a range where the estimate is one, `unpriced` where the catalog
    lacks a price; the GPU model and capacity type it was priced on, so a mispricing shows
    in CI) with its TOTAL row."""
    table = _tables.Table(
        ("OBJECT", "PODS", "GPUS", "GPU MODEL", "CAPACITY", "$/H", "$/MONTH", "VERDICT"),
        right=("PODS", "GPUS", "$/H", "$/MONTH"),
    )
    total_low = total_hourly = total_low_monthly = total_monthly = Decimal(0)
    currency = "USD"
    unpriced = 0
    for item in checked:
        estimate = item.verdict.estimate
        assert estimate is not None
        currency = estimate.pod.currency
        low = estimate.low_hourly.total
        total_low += low
        total_hourly += estimate.hourly.total
        hours = estimate.hours_per_month  # None: a Job's, or a CronJob's with no run length
        if hours is not None:
            total_low_monthly += low * hours
            total_monthly += estimate.hourly.total * hours
        verdict = item.verdict.outcome
        placement = estimate.pod.placement
        if estimate.unpriced:
            unpriced += 1
            hourly = monthly = "unpriced"
        else:
            hourly = wording.price_range(low, estimate.hourly.total, currency)
            monthly = "-"
            if hours is not None:
                monthly = wording.price_range(low * hours, estimate.hourly.total * hours, currency)
        table.add(
            _name(item.obj),
            wording.number(estimate.pods),
            wording.number(estimate.accelerator_devices),
            _models(estimate.pod),
            placement.capacity_type,
            hourly,
            monthly,
            verdict,
        )
    more = f" + {unpriced} unpriced" if unpriced else ""
    table.add(
        "TOTAL",
        "",
        "",
        "",
        "",
        wording.price_range(total_low, total_hourly, currency) + more,
        wording.price_range(total_low_monthly, total_monthly, currency) + more,
        "",
    )
    return table


def _models(pod: PodEstimate) -> str:
    """The GPU model priced; `t4–h100-80gb`: the two ends of a range of models."""
    high = pod.placement.accelerator_model
    low = (pod.low_placement or pod.placement).accelerator_model
    return f"{low}–{high}" if high and low and low != high else high or "-"


def as_json(checked: Sequence[Checked]) -> dict[str, Any]:
    """The `check` report of the one output contract (`_report`, docs/output.md)."""
    return {
        "report": "check",
        "allowed": all(item.verdict.allowed for item in checked),
        "objects": [
            {
                **_report.judged(item.obj, item.verdict, source=item.source),
                "patches": [
                    {"op": p.op, "path": p.path, "value": p.value} for p in item.verdict.patches
                ],
                "notices": list(item.verdict.notices),
            }
            for item in checked
        ],
        "total": _report.totals(
            [item.verdict.estimate for item in checked if item.verdict.estimate is not None]
        ),
    }
