"""The policy language, `costwarden.io/v1alpha1`, as pydantic models (the YAML format).

Two kinds of document live in policy files (several files, several documents each)::

    apiVersion: costwarden.io/v1alpha1
    kind: CostPolicy
    metadata: {name: gpu-limits}
    spec:
      rules:
      - name: max-gpus-per-pod
        action: deny                      # deny | warn | dryrun
        match: {namespaces: ["ml-*"]}     # + namespaceSelector, selector, kinds, operations
        exclude: {namespaces: [kube-system]}
        exceptions: {label: {key: cost-exception}}
        gpuLimits: {maxPerPod: 4}         # exactly one rule kind per rule

    apiVersion: costwarden.io/v1alpha1
    kind: PolicyException
    metadata: {name: fin-1234-big-retrain}
    spec: {rules: [max-gpus-per-pod], match: {...}, expires: 2026-12-31, reason: "FIN-1234 ..."}

Every model is frozen and forbids unknown keys, so a typo is an error naming file, document,
path and line (see `loading`). Money is `Decimal`. Regular expressions are compiled here,
once, at load — never per request.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

API_VERSION = "costwarden.io/v1alpha1"
Action = Literal["deny", "warn", "dryrun"]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
StaleBehaviour = Literal["deny", "warn", "allow"]
SpotCloud = Literal["karpenter", "eks", "gke", "aks"]

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")]
"""A DNS-1123-like name: rule names appear in every message as `[rule-name]`."""

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """`6h`, `90m`, `1h30m`, `2d`, `45s` -> timedelta; ValueError for anything else."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        raise ValueError(f"{text!r} is not a duration like 6h, 90m, 1h30m or 2d")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration can be") from None


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is a string like 6h, 90m, 1h30m or 2d")
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return duration


def format_duration(duration: timedelta) -> str:
    """The inverse of `parse_duration`: 90 days -> `90d`, 90 minutes -> `1h30m`."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"}),
]


def parse_expiry(value: Any) -> datetime:
    """An expiry: a date (valid through that day, UTC) or an RFC 3339 time with a zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("an expiry time needs a timezone, e.g. 2026-12-31T18:00:00Z")
        return value
    if isinstance(value, date):
        if value == date.max:  # valid through that day: the next one is past datetime's range
            raise ValueError(f"{value} is past the last date an expiry can name")
        return datetime.combine(value + timedelta(days=1), time(), tzinfo=UTC)
    problem = f"{value!r} is not a date (2026-12-31) or a time (2026-12-31T18:00:00Z)"
    if not isinstance(value, str):
        raise ValueError(problem)
    text = value.strip()
    try:
        parsed = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(problem) from None
    return parse_expiry(parsed)


Expiry = Annotated[
    AwareDatetime,
    BeforeValidator(parse_expiry),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    ),
]


def _regex(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


Regex = Annotated[
    re.Pattern[str],
    BeforeValidator(_regex),
    WithJsonSchema({"type": "string", "format": "regex"}),
]
"""A regular expression, compiled once at load."""


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return name


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=_camel,
        arbitrary_types_allowed=True,
        use_attribute_docstrings=True,
    )


# --- selection -------------------------------------------------------------------------


class LabelSelectorRequirement(_Model):
    key: Annotated[str, Field(min_length=1)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Model):
    """A Kubernetes label selector: all `matchLabels` and all `matchExpressions` hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


class Match(_Model):
    """Which requests a rule sees. Every field given must hold; an empty match is everything.

    `kinds` are the kinds of request objects. Listing `Pod` (or leaving `kinds` empty)
    includes the pod templates of Deployment, StatefulSet, ReplicaSet, DaemonSet, Job and
    CronJob (autogen), so a Deployment is judged at `kubectl apply`, not at ReplicaSet time.
    """

    namespaces: tuple[str, ...] = ()
    """Namespace names or globs (`ml-*`, `*-dev`)."""
    namespace_selector: LabelSelector | None = None
    """Labels of the request's namespace."""
    selector: LabelSelector | None = None
    """Labels of the pod (for workloads: of the pod template)."""
    kinds: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()


# --- exceptions --------------------------------------------------------------------------


class LabelException(_Model):
    """A label on the object (e.g. `cost-exception=FIN-1234`) that waives the rule.

    The label's value names the ticket; an annotation gives its expiry, after which the
    label no longer counts. Without a valid expiry the label waives nothing.
    """

    key: Annotated[str, Field(min_length=1)] = "cost-exception"
    value_pattern: Regex | None = None
    """Ticket format the value must match, e.g. `^FIN-[0-9]+$`."""
    expires_annotation: str = "costwarden.io/exception-expires"
    """Annotation holding the expiry: a date (`2026-12-31`) or an RFC 3339 time."""
    reason_annotation: str = "costwarden.io/exception-reason"
    max_duration: Duration | None = None
    """Longest expiry a label may claim, counted from now (e.g. `90d`)."""


class Exceptions(_Model):
    label: LabelException | None = None
    objects: bool = True
    """Whether `PolicyException` objects naming this rule may waive it."""


# --- rule kinds --------------------------------------------------------------------------


class LabelRequirement(_Model):
    key: Annotated[str, Field(min_length=1)]
    required: bool = True
    """Mandatory (must be present) or discretionary (checked only when present)."""
    values: tuple[str, ...] = ()
    """Allowed values; empty allows any value the pattern allows."""
    pattern: Regex | None = None
    """A regular expression the whole value must match."""
    inherit_from_namespace: bool = False
    """Take the value from the namespace's label of the same key when the pod has none
    ("Namespace = Cost Centre"); the engine then patches it onto the pod."""


class RequiredLabels(_Model):
    labels: Annotated[tuple[LabelRequirement, ...], Field(min_length=1)]
    pii_guard: bool = True
    """Reject label values that look like e-mail addresses (labels must not carry PII)."""

    @model_validator(mode="after")
    def _unique_keys(self) -> RequiredLabels:
        keys = [label.key for label in self.labels]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"label keys listed twice: {', '.join(duplicates)}")
        return self


class GpuLimits(_Model):
    """Accelerators (whole-device equivalents; a MIG 1g slice of an A100 is 1/7)."""

    max_per_pod: Count | None = None
    max_per_workload: Count | None = None
    """Pods running at once × per pod (replicas, Job parallelism)."""

    @model_validator(mode="after")
    def _some_limit(self) -> GpuLimits:
        if self.max_per_pod is None and self.max_per_workload is None:
            raise ValueError("set maxPerPod, maxPerWorkload or both")
        return self


class Spot(_Model):
    """Pods this rule matches (select dev by namespace or labels) must run on Spot."""

    mode: Literal["require", "mutate"] = "require"
    """`require`: a violation when the pod pins On-Demand or leaves capacity open.
    `mutate`: the engine returns patches that put the pod on Spot."""
    cloud: SpotCloud = "karpenter"
    """Which node-label vocabulary the mutation writes (and its toleration)."""


class SizeEnvelope(_Model):
    max_pod_vcpu: Count | None = None
    max_pod_memory_gib: Count | None = None
    max_hourly: Money | None = None
    """$/h of one pod."""
    max_instance_vcpu: Count | None = None
    max_instance_memory_gib: Count | None = None
    allowed_instance_types: tuple[str, ...] = ()
    """Instance-type names or globs (`g5.*`); empty allows any."""

    @model_validator(mode="after")
    def _some_bound(self) -> SizeEnvelope:
        bounds = (
            self.max_pod_vcpu,
            self.max_pod_memory_gib,
            self.max_hourly,
            self.max_instance_vcpu,
            self.max_instance_memory_gib,
        )
        if all(bound is None for bound in bounds) and not self.allowed_instance_types:
            raise ValueError("set at least one bound (e.g. maxPodVcpu, maxHourly)")
        return self


class GpuTaint(_Model):
    """GPU pool hygiene: GPU pods tolerate the GPU nodes' taint, other pods do not."""

    key: str = "nvidia.com/gpu"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    gpu_pods_must_tolerate: bool = True
    other_pods_must_not_tolerate: bool = True
    """Pods without accelerators on GPU nodes block their scale-down. DaemonSet pods are
    exempt: they run on every node by design."""


class SpendQuery(_Model):
    """Where a budget's spend comes from in Prometheus (README "Budgets" documents the
    default queries and their accuracy)."""

    source: Literal["costwarden", "opencost"] | None = None
    """Default queries over costwarden's own pod cost metric or OpenCost's metrics;
    None: the server's `--spend-source`."""
    run_rate: str | None = None
    """Custom PromQL for the committed $/h per group: an instant vector carrying the group
    label (`cost_centre`, `team` or `namespace`)."""
    spent: str | None = None
    """Custom PromQL for period-to-date spend per group; `{{range}}` (seconds since the
    period started) and `{{step}}` (the scrape step) are filled in."""


class Budget(_Model):
    """A spend cap per group (cost centre, team or namespace) per period."""

    group_by: Literal["label", "namespace"] = "label"
    label: str | None = "cost-centre"
    """The label whose value names the group (falls back to the namespace's label)."""
    period: Literal["month", "week"] = "month"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    caps: dict[str, Money] = Field(default_factory=dict)
    """Group value -> cap for the period, in the catalog's currency."""
    default_cap: Money | None = None
    """Cap for groups not in `caps`; None leaves them uncapped."""
    warn_at: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.8")
    """Fraction of the cap above which admission warns."""
    on_stale_data: StaleBehaviour | None = None
    """Spend data older than `staleAfter` (or never fetched): deny, warn or allow.
    None: the server's `--budget-stale-default`."""
    stale_after: Duration | None = None
    """None: the server's `--spend-stale-after-seconds`."""
    default_runtime: Duration | None = None
    """Expected runtime when the object states none (no Job deadline, no
    `costwarden.io/expected-runtime` annotation); None: the rest of the period."""
    spend: SpendQuery | None = None
    """Where the spend comes from; None: the server's `--spend-source` default queries."""

    @model_validator(mode="after")
    def _label_given(self) -> Budget:
        if self.group_by == "label" and not self.label:
            raise ValueError("groupBy: label needs `label` (e.g. cost-centre)")
        if not self.caps and self.default_cap is None:
            raise ValueError("set caps, defaultCap or both")
        return self


RULE_KINDS = (
    "required_labels",
    "gpu_limits",
    "spot",
    "size_envelope",
    "gpu_taint",
    "budget",
)
RuleKind = Literal["required_labels", "gpu_limits", "spot", "size_envelope", "gpu_taint", "budget"]


class Rule(_Model):
    name: Name
    description: str = ""
    action: Action = "deny"
    match: Match = Field(default_factory=Match)
    exclude: Match | None = None
    exceptions: Exceptions = Field(default_factory=Exceptions)
    fix: str = ""
    """Extra advice appended to every fix this rule suggests (e.g. a wiki link)."""

    required_labels: RequiredLabels | None = None
    gpu_limits: GpuLimits | None = None
    spot: Spot | None = None
    size_envelope: SizeEnvelope | None = None
    gpu_taint: GpuTaint | None = None
    budget: Budget | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Rule:
        given = [kind for kind in RULE_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            names = ", ".join(_camel(kind) for kind in RULE_KINDS)
            raise ValueError(f"a rule needs exactly one of {names} (found {len(given)})")
        return self

    @property
    def kind(self) -> RuleKind:
        for kind in RULE_KINDS:
            if getattr(self, kind) is not None:
                return kind  # type: ignore[return-value]
        raise AssertionError("validated: a rule has exactly one kind")  # pragma: no cover


class Metadata(_Model):
    name: Name
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class CostPolicySpec(_Model):
    description: str = ""
    rules: Annotated[tuple[Rule, ...], Field(min_length=1)]


class CostPolicy(_Model):
    """A named set of rules (one YAML document)."""

    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["CostPolicy"]
    metadata: Metadata
    spec: CostPolicySpec


class PolicyExceptionSpec(_Model):
    rules: Annotated[tuple[Name, ...], Field(min_length=1)]
    """Names of the rules waived."""
    match: Match = Field(default_factory=Match)
    names: tuple[str, ...] = ()
    """Object names or globs (for controller-made pods, their generateName prefix)."""
    expires: Expiry
    """A date (valid through that day, UTC) or an RFC 3339 time; after it, nothing is waived."""
    reason: Annotated[str, Field(min_length=1)]
    """Echoed in the verdict (e.g. the ticket and who approved it)."""


class PolicyException(_Model):
    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["PolicyException"]
    metadata: Metadata
    spec: PolicyExceptionSpec


KINDS = ("CostPolicy", "PolicyException")
"""The document kinds of a policy file."""
