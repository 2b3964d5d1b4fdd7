"""`costwarden diff --base REF|PATH -f FILE|DIR|-`: what a change does to cost and verdicts.

Both sides are judged as `check` judges them — every object evaluated as a CREATE by the
webhook's engine, with the same policies, catalog and namespace labels — and compared
object by object (apiVersion, kind, namespace, name): $/h, $/month, GPUs, pods and the
verdict before → after, with the violations the change brings. The base is a git ref
(`--base origin/main`: the `-f` paths as they are at that commit) or files; the head is
the files as they are, or another ref (`--head`). Helm users pipe the chart rendered:
`helm template . | costwarden diff --base base.yaml -f -`.

`-o markdown` is ready to post as a pull-request comment. Exit status: 0, or 1 when a
`--fail-on` condition holds (`deny`: an object the change adds or changes is denied;
`increase-over 10%` / `increase-over 500`: the monthly total rises by more than that share
or amount), 2 for unreadable input or when neither side holds any object.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, NamedTuple

from costwarden import documents, namespaces
from costwarden.catalog.loading import load_catalog
from costwarden.catalog.models import Catalog
from costwarden.cli import (
    EXIT_DENIED,
    EXIT_OK,
    InputError,
    _manifests,
    _report,
    _tables,
    _world,
    check,
)
from costwarden.engine import wording
from costwarden.engine.verdicts import Verdict, Violation
from costwarden.policies import loading, sets

Change = Literal["added", "removed", "changed", "unchanged"]


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    _manifests.add_arguments(parser, what="compare with the base")
    _manifests.add_policies_argument(parser)
    parser.add_argument(
        "--base",
        required=True,
        metavar="REF|PATH",
        help="what the change starts from: a git ref (the -f paths at that commit), or "
        "manifests when a file or directory of that name exists (- is stdin)",
    )
    parser.add_argument(
        "--head",
        metavar="REF",
        help="read the -f paths at this git ref instead of as they are (default: as they are)",
    )
    parser.add_argument(
        _manifests.NAMESPACE_LABELS_FLAG,
        dest="namespace_labels_file",
        type=Path,
        metavar="FILE",
        help="the namespaces' labels in the cluster (as for check)",
    )
    parser.add_argument(
        "--fail-on",
        nargs="+",
        action="append",
        default=[],
        metavar="CONDITION",
        help="exit 1 when: `deny` (an object the change adds or changes is denied), "
        "`increase-over 10%%` (the monthly total rises by more than 10%%) or "
        "`increase-over 500` (by more than 500 a month, in the catalog's currency); "
        "repeatable (default: never — the diff informs)",
    )
    _report.add_output_argument(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Side:
    """One object as one side judges it."""

    obj: Mapping[str, Any]
    source: str
    verdict: Verdict

    @property
    def outcome(self) -> str:
        return self.verdict.outcome


@dataclass(frozen=True, slots=True)
class Compared:
    identity: tuple[str, ...]
    """apiVersion, kind, namespace, name."""
    before: Side | None
    after: Side | None

    @property
    def change(self) -> Change:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "unchanged" if self.before.obj == self.after.obj else "changed"

    @property
    def new_violations(self) -> list[Violation]:
        """Violations after the change that the object did not have before (by rule)."""
        if self.after is None:
            return []
        had = (
            set()
            if self.before is None
            else {(v.policy, v.rule) for v in self.before.verdict.violations}
        )
        return [v for v in self.after.verdict.violations if (v.policy, v.rule) not in had]


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except documents.InvalidInput as exc:
        raise InputError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    conditions = [_condition(words) for words in args.fail_on]
    policies = loading.load_policies(args.policies) if args.policies else None
    policy_set = policies if policies is not None else loading.bundled_policies()
    catalog = load_catalog(args.catalog)
    labels = (
        dict(namespaces.load([args.namespace_labels_file])) if args.namespace_labels_file else {}
    )
    now = datetime.now(UTC)
    base_path = Path(args.base)
    if base_path.exists() or args.base == "-":
        base_docs = documents.read_files([args.base])
    else:
        base_docs = read_at_ref(args.base, args.files)
    head_docs = (
        read_at_ref(args.head, args.files) if args.head else documents.read_files(args.files)
    )
    before = _judge(base_docs, policies=policy_set, catalog=catalog, labels=labels, now=now)
    after = _judge(head_docs, policies=policy_set, catalog=catalog, labels=labels, now=now)
    if not before and not after:
        raise InputError("no objects that run pods on either side: nothing was compared")
    compared = compare(before, after)
    report = as_json(
        compared, base=args.base, head=args.head or "working tree", currency=catalog.currency
    )
    if args.output in ("json", "yaml"):
        print(_report.emit(report, args.output))
    elif args.output == "markdown":
        print(as_markdown(compared, report))
    else:
        print(as_table(compared, report))
    failed = [reason for condition in conditions if (reason := condition(compared, report))]
    for reason in failed:
        print(f"fail: {reason}", file=sys.stderr)
    return EXIT_DENIED if failed else EXIT_OK


def _judge(
    docs: Sequence[documents.Document],
    *,
    policies: sets.PolicySet,
    catalog: Catalog,
    labels: Mapping[str, Mapping[str, str]],
    now: datetime,
) -> dict[tuple[str, ...], Side]:
    manifests, problems = _manifests.from_documents(docs)
    policies, context = _world.judged_in(
        manifests, problems, policies=policies, labels=labels, now=now
    )
    checked = check.check_manifests(
        manifests, policies=policies, catalog=catalog, context=context, problems=problems
    )
    sides: dict[tuple[str, ...], Side] = {}
    for item in checked:
        sides[identity(item.obj)] = Side(obj=item.obj, source=item.source, verdict=item.verdict)
    return sides


def identity(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """What makes two manifests the same object: apiVersion, kind, namespace, name."""
    return tuple(_report.identity(obj).values())


def compare(
    before: Mapping[tuple[str, ...], Side],
    after: Mapping[tuple[str, ...], Side],
) -> list[Compared]:
    """Every object of either side, in the order they were read (the head's first)."""
    keys = [*after, *(key for key in before if key not in after)]
    return [Compared(identity=key, before=before.get(key), after=after.get(key)) for key in keys]


class Figures(NamedTuple):
    """What one side's object runs and costs, the high end (what tables print)."""

    gpus: Decimal
    hourly: Decimal
    monthly: Decimal | None
    """None: the object runs for hours a month nobody knows (a Job without a run time)."""


NOTHING = Figures(Decimal(0), Decimal(0), Decimal(0))


def figures(side: Side | None) -> Figures:
    """What one side's object runs and costs (all zero when it is not there)."""
    if side is None or side.verdict.estimate is None:
        return NOTHING
    estimate = side.verdict.estimate
    monthly: Decimal | None = estimate.monthly
    return Figures(estimate.accelerator_devices, estimate.hourly.total, monthly)


def as_json(compared: Sequence[Compared], *, base: str, head: str, currency: str) -> dict[str, Any]:
    """The diff in the command line's one output contract (`_report`): each object's two
    sides, what changed, and the totals; a monthly figure nobody knows is `null`, left out
    of the monthly totals and counted."""
    objects = []
    for item in compared:
        before, after = _side_json(item.before), _side_json(item.after)
        some = item.after or item.before
        assert some is not None  # an object is on one side at least
        objects.append(
            {
                "identity": _report.identity(some.obj),
                "change": item.change,
                "before": before,
                "after": after,
                "delta": _delta(*(side["estimate"] if side else None for side in (before, after))),
                "newFindings": _report.findings(
                    replace(some.verdict, violations=tuple(item.new_violations))
                ),
            }
        )
    sides = {
        name: _report.totals(
            [
                side.verdict.estimate
                for item in compared
                if (side := getattr(item, name)) is not None and side.verdict.estimate is not None
            ]
        )
        for name in ("before", "after")
    }
    before_high = Decimal(sides["before"]["monthly"]["high"])
    after_high = Decimal(sides["after"]["monthly"]["high"])
    return {
        "report": "diff",
        "base": base,
        "head": head,
        "currency": currency,
        "objects": objects,
        "total": {
            **sides,
            "delta": _delta(sides["before"], sides["after"]),
            "monthlyChangePercent": _percent(before_high, after_high),
        },
    }


def _side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    estimate = side.verdict.estimate
    return {
        "source": side.source,
        "verdict": side.outcome,
        "estimate": None if estimate is None else _report.estimate(estimate),
        "findings": _report.findings(side.verdict),
    }


def _delta(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """after − before of two estimates (or totals); an absent one counts as nothing, an
    unknown monthly figure makes the monthly change unknown."""

    def ends(side: Mapping[str, Any] | None, key: str) -> tuple[Decimal, Decimal] | None:
        if side is None:
            return Decimal(0), Decimal(0)
        figure = side[key]
        return None if figure is None else (Decimal(figure["low"]), Decimal(figure["high"]))

    def change(key: str) -> dict[str, str] | None:
        old, new = ends(before, key), ends(after, key)
        if old is None or new is None:
            return None
        return {"low": _report.money(new[0] - old[0]), "high": _report.money(new[1] - old[1])}

    gpus = Decimal(after["gpus"] if after else 0) - Decimal(before["gpus"] if before else 0)
    return {
        "gpus": _report.quantity(gpus),
        "hourly": change("hourly"),
        "monthly": change("monthly"),
    }


def _percent(before: Decimal, after: Decimal) -> str | None:
    """The change as a percentage of `before` (None when there was nothing before)."""
    if before == 0:
        return None
    return str(wording.rounded((after - before) / before * 100, 1))


def _rows(compared: Sequence[Compared], currency: str) -> Iterator[tuple[str, ...]]:
    for item in compared:
        if item.change == "unchanged":
            continue
        before, after = figures(item.before), figures(item.after)
        _, kind, namespace, name = item.identity
        label = f"{kind} {namespace}/{name}"
        if item.change in ("added", "removed"):
            label += f" ({item.change})"
        yield (
            label,
            _arrow(item.before, item.after, before.gpus, after.gpus, wording.number),
            _arrow(
                item.before,
                item.after,
                before.hourly,
                after.hourly,
                lambda value: wording.money(value, currency),
            ),
            _monthly_change(before.monthly, after.monthly, currency),
            _verdicts(item),
        )


def _arrow(before: Side | None, after: Side | None, old: Decimal, new: Decimal, show: Any) -> str:
    left = "–" if before is None else show(old)
    right = "–" if after is None else show(new)
    return left if left == right and before and after else f"{left} → {right}"


def _monthly_change(before: Decimal | None, after: Decimal | None, currency: str) -> str:
    if before is None or after is None:
        return "unknown"
    return _signed(after - before, currency)


def _signed(value: Decimal, currency: str) -> str:
    text = wording.money(abs(value), currency)
    return f"+{text}" if value > 0 else (f"-{text}" if value < 0 else text)


def _verdicts(item: Compared) -> str:
    old = "–" if item.before is None else item.before.outcome
    new = "–" if item.after is None else item.after.outcome
    return old if old == new else f"{old} → {new}"


HEADERS = ("OBJECT", "GPUS", "$/H", "Δ $/MONTH", "VERDICT")


def _summary(compared: Sequence[Compared], report: Mapping[str, Any], currency: str) -> str:
    total = report["total"]
    delta = Decimal(total["delta"]["monthly"]["high"])
    counts = dict.fromkeys(("added", "changed", "removed", "unchanged"), 0)
    for item in compared:
        counts[item.change] += 1
    percent = total["monthlyChangePercent"]
    share = f" ({'+' if delta > 0 else ''}{percent} %)" if percent is not None else ""
    before = wording.money(Decimal(total["before"]["monthly"]["high"]), currency)
    after = wording.money(Decimal(total["after"]["monthly"]["high"]), currency)
    objects = ", ".join(f"{count} {change}" for change, count in counts.items() if count)
    unknown = max(total["before"]["monthlyUnknown"], total["after"]["monthlyUnknown"])
    left_out = f" ({unknown} with no monthly figure left out)" if unknown else ""
    return (
        f"{before} → {after} a month{left_out}: {_signed(delta, currency)}{share}; "
        f"objects: {objects}"
    )


def as_table(compared: Sequence[Compared], report: Mapping[str, Any]) -> str:
    currency = report["currency"]
    table = _tables.Table(HEADERS, right=("Δ $/MONTH",))
    for row in _rows(compared, currency):
        table.add(*row)
    lines = [f"Cost diff — {report['base']} → {report['head']}, {currency}", ""]
    lines += table.lines() if table.rows else ["no object changes cost or verdict"]
    lines += ["", _summary(compared, report, currency)]
    lines += _new_violation_lines(compared, prefix="  ")
    return "\n".join(lines)


def _new_violation_lines(compared: Sequence[Compared], *, prefix: str) -> list[str]:
    lines = []
    for item in compared:
        for violation in item.new_violations:
            _, kind, namespace, name = item.identity
            word = violation.action.upper()
            lines.append(f"{prefix}{word} {kind} {namespace}/{name}: {violation.message}")
    return ["", "New violations:", *lines] if lines else []


def as_markdown(compared: Sequence[Compared], report: Mapping[str, Any]) -> str:
    """A pull-request comment: a summary line, the changed objects, the new violations."""
    currency = report["currency"]
    lines = [
        "### costwarden: cost change",
        "",
        f"**{_summary(compared, report, currency)}**",
        f"<sub>{report['base']} → {report['head']}; {currency}</sub>",
        "",
    ]
    rows = list(_rows(compared, currency))
    if rows:
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "|".join("---:" if h == "Δ $/MONTH" else "---" for h in HEADERS) + "|")
        lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    else:
        lines.append("No object changes cost or verdict.")
    violations = _new_violation_lines(compared, prefix="- ")
    if violations:
        lines += ["", "**New violations**", "", *violations[2:]]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _condition(words: Sequence[str]) -> Any:
    """A `--fail-on` condition: a function (compared, report) -> the reason it holds, or None."""
    if list(words) == ["deny"]:

        def denied(compared: Sequence[Compared], report: Mapping[str, Any]) -> str | None:
            names = [
                f"{item.identity[1]} {item.identity[2]}/{item.identity[3]}"
                for item in compared
                if item.change in ("added", "changed")
                and item.after is not None
                and not item.after.verdict.allowed
            ]
            return f"denied after the change: {', '.join(names)}" if names else None

        return denied
    if len(words) == 2 and words[0] == "increase-over":
        limit = words[1]
        try:
            amount = Decimal(limit.rstrip("%"))
        except InvalidOperation:
            amount = Decimal(-1)
        if amount < 0 or not amount.is_finite():
            raise InputError(
                f"--fail-on increase-over {limit}: expected a share (10%) or an amount (500)"
            )

        def increased(compared: Sequence[Compared], report: Mapping[str, Any]) -> str | None:
            total = report["total"]
            delta = Decimal(total["delta"]["monthly"]["high"])
            currency = report["currency"]
            if limit.endswith("%"):
                before = Decimal(total["before"]["monthly"]["high"])
                over = delta > 0 if before == 0 else delta / before * 100 > amount
            else:
                over = delta > amount
            if not over:
                return None
            return f"the monthly total rises by {_signed(delta, currency)}, over {limit}"

        return increased
    raise InputError(
        f"--fail-on {' '.join(words)}: expected `deny`, `increase-over N%` or `increase-over N`"
    )


def read_at_ref(ref: str, paths: Sequence[str | Path]) -> list[documents.Document]:
    """The documents of the YAML/JSON files under `paths` as they are at git commit `ref`,
    each named `REF:path`. Read-only: nothing in the working tree or the index changes."""
    if any(str(path) == "-" for path in paths):
        raise InputError("-f - (stdin) has no state at a git ref: give --base as a file")
    commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", what=ref).strip()
    listed = _git("ls-tree", "-r", "-z", "--name-only", commit, "--", *map(str, paths), what=ref)
    files = sorted(
        name
        for name in listed.split("\0")
        if name.endswith(documents.DOCUMENT_SUFFIXES)
        and not any(part.startswith(".") for part in Path(name).parts)
    )
    docs: list[documents.Document] = []
    problems: list[documents.Problem] = []
    for name in files:
        source = f"{ref}:{name}"
        blob = _git_bytes("show", f"{commit}:./{name}", what=ref)
        if len(blob) > documents.MAX_FILE_BYTES:
            problems.append(documents.Problem(source=source, message="cannot read file: too large"))
            continue
        try:
            docs.extend(documents.read_documents(blob.decode("utf-8"), source=source))
        except UnicodeDecodeError:
            problems.append(documents.Problem(source=source, message="cannot read file: not UTF-8"))
        except documents.InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise documents.InvalidInput(problems)
    return docs


def _git(*arguments: str, what: str) -> str:
    return _git_bytes(*arguments, what=what).decode("utf-8", errors="replace")


def _git_bytes(*arguments: str, what: str) -> bytes:
    try:
        done = subprocess.run(["git", *arguments], capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise InputError(f"{what}: not a file or directory, and git is not installed") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        reason = said[-1] if said else "unknown revision"
        raise InputError(f"{what}: not a file or directory, nor a git ref here ({reason})")
    return done.stdout
