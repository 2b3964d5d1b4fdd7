"""The JSON Schema of what `check`, `estimate`, `diff` and `audit` print with `-o json`.

`python -m costwarden.cli.report_schema > src/costwarden/data/schema/report.json` writes it;
a test keeps the file equal to this module and validates every command's output against
it. The models exist to state the contract (`_report` builds the documents themselves);
each report names itself in `report`.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel

Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{6}$", examples=["6.262900"])]
"""An amount in the report's currency: a decimal string, six places."""
Quantity = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["4", "0.14"])]
"""A count or size: a decimal string without exponent."""
Verdict = Literal["allowed", "warned", "denied"]


class _Contract(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")


class Identity(_Contract):
    """What makes an object itself."""

    api_version: str
    kind: str
    namespace: str = Field(description="`default` when a manifest leaves it out")
    name: str = Field(description="its generateName when it has no name")


class Range(_Contract):
    """Low and high ends: equal when the placement fixes the price."""

    low: Money
    high: Money


class Breakdown(_Contract):
    cpu: Money
    memory: Money
    accelerator: Money


class AcceleratorRequest(_Contract):
    resource: str = Field(examples=["nvidia.com/gpu", "nvidia.com/mig-1g.5gb"])
    count: int
    devices: Quantity = Field(description="whole-device equivalents (a 1g.5gb slice: 1/7)")


class PodRequests(_Contract):
    """One pod's effective requests, as the scheduler computes them."""

    cpu: Quantity
    memory_gi_b: Quantity = Field(alias="memoryGiB")
    accelerators: list[AcceleratorRequest]


class Estimate(_Contract):
    """What a workload (or a bare pod) runs and costs; `null` where a figure is unknown."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    catalog_version: str
    pods: Quantity = Field(description="pods at once")
    gpus: Quantity = Field(description="accelerator devices (whole-device equivalents)")
    gpu_model: str | None = Field(description="the model the high end is priced with")
    gpu_model_low: str | None = Field(description="the model the low end is priced with")
    capacity_type: Literal["on-demand", "spot", "reserved"]
    instance_type: str | None
    provider: str | None
    region: str | None
    hourly: Range
    hours_per_month: Quantity | None = Field(description="null: a Job's runs are unknown")
    monthly: Range | None
    per_run: Range | None = Field(description="a Job's or CronJob's run, when its length is known")
    breakdown: Breakdown = Field(description="the high end's $/h by what it pays for")
    pod_hourly: Range = Field(description="one pod's $/h")
    pod_requests: PodRequests
    range_reasons: list[str]
    unpriced: list[str] = Field(description="what the catalog lacks; empty when priced")
    assumptions: list[str]


class Finding(_Contract):
    policy: str
    rule: str
    action: Literal["deny", "warn", "dryrun"]
    message: str
    numbers: dict[str, str]


class Exempted(_Contract):
    policy: str
    rule: str
    exception: str
    reason: str
    expires: Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Judged(_Contract):
    """An object as a command that judged it reports it."""

    identity: Identity
    source: str
    verdict: Verdict
    estimate: Estimate | None
    findings: list[Finding]
    exempted: list[Exempted]


class Totals(_Contract):
    """Sums of the rows as written."""

    objects: int
    pods: Quantity
    gpus: Quantity
    hourly: Range
    monthly: Range = Field(description="over the objects whose hours a month are known")
    monthly_unknown: int
    unpriced: int


class Patch(_Contract):
    op: str
    path: str
    value: object = None


class CheckedObject(Judged):
    patches: list[Patch]
    notices: list[str]


class CheckReport(_Contract):
    report: Literal["check"]
    allowed: bool
    objects: list[CheckedObject]
    total: Totals


class Catalog(_Contract):
    name: str
    version: str
    currency: str


class EstimatedObject(_Contract):
    identity: Identity
    source: str
    document: int = Field(description="index of the document in its file, from 0")
    path: str = Field(description="inside a List: items[3]; empty otherwise")
    estimate: Estimate


class Skipped(_Contract):
    identity: Identity
    source: str
    document: int
    reason: str


class EstimateReport(_Contract):
    report: Literal["estimate"]
    catalog: Catalog
    objects: list[EstimatedObject]
    skipped: list[Skipped]
    total: Totals


class Side(_Contract):
    source: str
    verdict: Verdict
    estimate: Estimate | None
    findings: list[Finding]


class Delta(_Contract):
    gpus: Quantity
    hourly: Range
    monthly: Range | None


class Compared(_Contract):
    identity: Identity
    change: Literal["added", "removed", "changed", "unchanged"]
    before: Side | None
    after: Side | None
    delta: Delta
    new_findings: list[Finding]


class DiffTotal(_Contract):
    before: Totals
    after: Totals
    delta: Delta
    monthly_change_percent: str | None = Field(description="of the high end; null from zero")


class DiffReport(_Contract):
    report: Literal["diff"]
    base: str
    head: str
    currency: str
    objects: list[Compared]
    total: DiffTotal


class Figures(_Contract):
    """A group's sums (the high ends)."""

    objects: int
    gpus: Quantity
    hourly: Money
    monthly: Money = Field(description="over the objects whose hours a month are known")
    monthly_unknown: int


class Group(Figures):
    group: str


class Showback(_Contract):
    cost_centre: list[Group]
    team: list[Group]
    namespace: list[Group]
    gpu_model: list[Group]
    capacity_type: list[Group]


class Cell(Figures):
    gpu_model: str
    capacity_type: str


class RuleCount(_Contract):
    policy: str
    rule: str
    deny: int
    warn: int
    dryrun: int
    objects: list[str]


class ExceptionState(_Contract):
    name: str
    namespace: str | None
    rules: list[str]
    expires: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    status: Literal["active", "expiring", "expired"]
    approved_by: str | None
    reason: str
    waives: list[str]


class StaleLabel(_Contract):
    object: str
    label: str
    value: str
    why: str


class Unpriced(_Contract):
    object: str
    reasons: list[str]


class AuditedObject(Judged):
    dimensions: dict[str, str]


class AuditReport(_Contract):
    report: Literal["audit"]
    as_of: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    catalog: str
    currency: str
    total: Totals
    showback: Showback
    gpu_model_by_capacity_type: list[Cell]
    top_workloads: list[str]
    violations_by_rule: list[RuleCount]
    exceptions: list[ExceptionState]
    stale_exception_labels: list[StaleLabel]
    unpriced: list[Unpriced]
    objects: list[AuditedObject]


class LintProblem(_Contract):
    source: str = Field(description="file name, or <stdin>")
    line: int | None
    document: int | None
    path: str = Field(description="JSON path inside the document")
    message: str


class LintReport(_Contract):
    report: Literal["lint"]
    ok: bool
    checked: list[str]
    problems: list[LintProblem]


class Case(_Contract):
    suite: str
    case: str
    passed: bool
    verdict: Verdict = Field(description="what the policies said")
    diff: str = Field(description="expected (-) against actual (+); empty when passed")


class TestReport(_Contract):
    report: Literal["test"]
    passed: int
    failed: int
    cases: list[Case]


class Report(
    RootModel[
        Annotated[
            CheckReport | EstimateReport | DiffReport | AuditReport | LintReport | TestReport,
            Field(discriminator="report"),
        ]
    ]
):
    """Any report the command line prints as JSON."""


def schema() -> dict[str, object]:
    document = Report.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["$id"] = "https://costwarden.io/schema/report.json"
    document["title"] = "costwarden report"
    return document


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2))
