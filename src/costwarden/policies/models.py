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
path and line (see `loading`). A rule's kind-specific part comes from its kind's module
(`engine.rules`): `Rule` is the union of one model per registered kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, create_model, model_validator
from pydantic.json_schema import SkipJsonSchema

from costwarden.engine import rules
from costwarden.engine.kinds import RuleKind
from costwarden.engine.specs import (
    Action,
    Count,
    Duration,
    Expiry,
    Money,
    Name,
    Operation,
    Regex,
    SpecModel,
    SpotCloud,
    format_duration,
    parse_duration,
    parse_expiry,
)

__all__ = [
    "Count", "Duration", "Expiry", "Money", "Regex", "SpotCloud", "format_duration",
    "parse_duration", "parse_expiry",
]  # fmt: skip
"""Field types of the policy language, re-exported: they live in `engine.specs`."""

API_VERSION = "costwarden.io/v1alpha1"
# --- selection -------------------------------------------------------------------------


class LabelSelectorRequirement(SpecModel):
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


class LabelSelector(SpecModel):
    """A Kubernetes label selector: all `matchLabels` and all `matchExpressions` hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


class Match(SpecModel):
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


class LabelException(SpecModel):
    """A label on the object (e.g. `cost-exception=FIN-1234`) that asks for an approved
    `PolicyException`: its value names one (by name or a ticket it lists), and only an
    approved one that names the rule, matches the object and has not expired waives it.
    The label alone waives nothing: whoever writes a pod can write its labels."""

    key: Annotated[str, Field(min_length=1)] = "cost-exception"
    value_pattern: Regex | None = None
    """Ticket format the value must match, e.g. `^FIN-[0-9]+$`."""
    max_duration: Duration | None = None
    """Longest a PolicyException naming this rule may run, from its approval (e.g. `90d`):
    the webhook refuses one that expires later."""


class Exceptions(SpecModel):
    label: LabelException | None = None
    objects: bool = True
    """Whether `PolicyException` objects naming this rule may waive it."""


class RuleBase(SpecModel):
    """What every rule has, whatever its kind; each kind adds its own field (`requiredLabels`,
    `budget`, ...), named by its module in `engine.rules`."""

    name: Name
    description: str = ""
    action: Action = "deny"
    match: Match = Field(default_factory=Match)
    exclude: Match | None = None
    exceptions: Exceptions = Field(default_factory=Exceptions)
    fix: str = ""
    """Extra advice appended to every fix this rule suggests (e.g. a wiki link)."""

    kind: ClassVar[RuleKind]  # type: ignore[type-arg]
    """The rule's kind: each kind's model sets its own."""

    @property
    def spec(self) -> Any:
        """The kind's spec (a `RequiredLabels`, a `Budget`, ...)."""
        return getattr(self, _ATTRIBUTE[self.kind.field])


def _attribute(kind: RuleKind) -> str:  # type: ignore[type-arg]
    """`requiredLabels` -> `required_labels`: the model's attribute for the kind's field."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in kind.field)


_ATTRIBUTE = {kind.field: _attribute(kind) for kind in rules.KINDS}
_FIELDS = tuple(kind.field for kind in rules.KINDS)


def _rule_model(kind: RuleKind) -> type[RuleBase]:  # type: ignore[type-arg]
    name = kind.field[0].upper() + kind.field[1:] + "Rule"
    model: type[RuleBase] = create_model(  # type: ignore[call-overload]
        name,
        __base__=RuleBase,
        __doc__=f"A rule of kind `{kind.field}`.",
        **{_attribute(kind): (kind.spec, ...)},
    )
    model.kind = kind
    return model


RULE_MODELS = {kind.field: _rule_model(kind) for kind in rules.KINDS}
"""Kind field -> the model of a rule of that kind."""


class _KindlessRule(RuleBase):
    """A rule naming no kind: its unknown fields are reported (a misspelt `gpuLimitz`),
    and without any, that it needs a kind."""

    @model_validator(mode="after")
    def _needs_a_kind(self) -> _KindlessRule:
        raise ValueError(_NEEDS_ONE_KIND)


_NEEDS_ONE_KIND = f"a rule needs exactly one of {', '.join(_FIELDS)}"
_NO_KIND = "<none>"


def _kind_of(value: Any) -> str | None:
    """The tag of a rule: the one kind field it has (None when it has several)."""
    if isinstance(value, RuleBase):
        return f"<{value.kind.field}>" if type(value) is not _KindlessRule else _NO_KIND
    if not isinstance(value, dict):
        return None
    given = [field for field in _FIELDS if field in value]
    if not given:
        return _NO_KIND
    return f"<{given[0]}>" if len(given) == 1 else None


if TYPE_CHECKING:  # the union is built from the registry: what type checkers see of it
    Rule = RuleBase
else:
    Rule = Annotated[
        Union[  # noqa: UP007
            tuple(
                [Annotated[model, Tag(f"<{field}>")] for field, model in RULE_MODELS.items()]
                + [SkipJsonSchema[Annotated[_KindlessRule, Tag(_NO_KIND)]]]
            )
        ],
        Discriminator(
            _kind_of, custom_error_type="rule_kind", custom_error_message=_NEEDS_ONE_KIND
        ),
    ]
"""A rule: the union of one model per registered kind, told apart by the kind's field.
(Tags are written `<field>`: pydantic puts a union's tag into error locations, and
`documents` leaves such parts out of the path it reports.)"""


class Metadata(SpecModel):
    name: Name
    namespace: Name | None = None
    """A PolicyException's namespace: it waives only objects there (a namespaced object in
    the cluster always has one; in files, none means every namespace its `match` allows)."""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class CostPolicySpec(SpecModel):
    description: str = ""
    rules: Annotated[tuple[Rule, ...], Field(min_length=1)]


class CostPolicy(SpecModel):
    """A named set of rules (one YAML document)."""

    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["CostPolicy"]
    metadata: Metadata
    spec: CostPolicySpec


class PolicyExceptionSpec(SpecModel):
    rules: Annotated[tuple[Name, ...], Field(min_length=1)]
    """Names of the rules waived."""
    match: Match = Field(default_factory=Match)
    names: tuple[str, ...] = ()
    """Object names or globs (for controller-made pods, their generateName prefix)."""
    tickets: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    """Tickets an object's exception label may name to ask for this exception (its name
    always may). With tickets, only objects carrying such a label are waived."""
    expires: Expiry
    """A date (valid through that day, UTC) or an RFC 3339 time; after it, nothing is waived."""
    reason: Annotated[str, Field(min_length=1)]
    """Echoed in the verdict (e.g. the ticket and what was approved)."""


class PolicyException(SpecModel):
    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["PolicyException"]
    metadata: Metadata
    spec: PolicyExceptionSpec


APPROVED_BY = "costwarden.io/approved-by"
"""A PolicyException's annotation naming who approved it: the webhook admits one only when
it names the user creating or changing it (`policies.approving`)."""

KINDS = ("CostPolicy", "PolicyException")
"""The document kinds of a policy file."""
