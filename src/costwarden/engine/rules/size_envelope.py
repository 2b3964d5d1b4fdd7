"""The `sizeEnvelope` rule kind: how big one pod, and the instance it lands on, may be.

`maxHourly` compares the high end of the pod's estimate (`charge: high`, the default) or its
low end (`charge: low`). A pod the catalog cannot price, where the rule needs a price or an
instance's size (`maxHourly`, `maxInstanceVcpu`, `maxInstanceMemoryGib`), is denied, warned
about or allowed as `unpriced` says: warn by default (docs/policies.md says why).
"""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal
from typing import Literal, NamedTuple

from pydantic import model_validator

from costwarden.engine import wording
from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.kinds import Head, Review, RuleKind
from costwarden.engine.specs import Action, Count, Money, SpecModel
from costwarden.estimating.estimates import PodEstimate

Charge = Literal["high", "low"]
UnpricedBehaviour = Literal["deny", "warn", "allow"]


class SizeEnvelope(SpecModel):
    max_pod_vcpu: Count | None = None
    max_pod_memory_gib: Count | None = None
    max_hourly: Money | None = None
    """$/h of one pod."""
    max_instance_vcpu: Count | None = None
    max_instance_memory_gib: Count | None = None
    allowed_instance_types: tuple[str, ...] = ()
    """Instance-type names or globs (`g5.*`); empty allows any."""
    charge: Charge = "high"
    """Which end of the pod's estimated range `maxHourly` compares: `high` (the default)
    or `low`."""
    unpriced: UnpricedBehaviour = "warn"
    """A pod the catalog cannot price where a bound needs a price or an instance's size:
    deny, warn (the default: the envelope's other bounds still hold, and budgets guard the
    money) or allow."""

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


class Envelope(NamedTuple):
    spec: SizeEnvelope
    instance_types: re.Pattern[str] | None
    """`allowedInstanceTypes` as one expression; None allows any."""
    action: Action = "deny"


def compile_envelope(spec: SizeEnvelope, head: Head) -> Envelope:
    patterns = spec.allowed_instance_types
    if not patterns:
        return Envelope(spec, None, head.action)
    expression = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
    return Envelope(spec, expression, head.action)


def check(envelope: Envelope, review: Review) -> Outcome:
    config, target, catalog = envelope.spec, review.target, review.catalog
    pod = target.estimate.pod
    currency = pod.currency
    findings = []

    def over(key: str, what: str, value: Decimal, limit: Decimal | None) -> None:
        # Most pods fit: the numbers are only formatted for a finding.
        if limit is not None and value > limit:
            findings.append(
                Finding(
                    key=key,
                    what=f"{what} {_show(key, value, currency)} is above the envelope's {key} "
                    f"of {_show(key, limit, currency)}",
                    fix=f"reduce {what} to at most {_show(key, limit, currency)}",
                    numbers={key: str(value), "limit": str(limit)},
                )
            )

    requests = pod.requests
    over("maxPodVcpu", "pod vCPU", requests.cpu, config.max_pod_vcpu)
    over("maxPodMemoryGib", "pod memory", requests.memory_gib, config.max_pod_memory_gib)
    hourly = (pod.hourly if config.charge == "high" else pod.low_hourly).total
    over("maxHourly", f"pod cost{_end(config, pod)}", hourly, config.max_hourly)
    instance_name = pod.placement.instance_type
    instance = catalog.instance_types.get(instance_name) if instance_name else None
    notices: tuple[str, ...] = ()
    needs_price = config.max_hourly is not None and not any(
        f.key == "maxHourly" for f in findings
    )  # a pod over the bound on what is priced is over it whatever the rest costs
    needs_instance = instance is None and (
        config.max_instance_vcpu is not None or config.max_instance_memory_gib is not None
    )
    if pod.unpriced and (needs_price or needs_instance):
        finding, notice = _unpriced(envelope, review)
        findings.extend(finding)
        notices = notice
    if instance is not None:
        over(
            "maxInstanceVcpu",
            f"instance {instance.name} vCPU",
            instance.vcpu,
            config.max_instance_vcpu,
        )
        over(
            "maxInstanceMemoryGib",
            f"instance {instance.name} memory",
            instance.memory_gib,
            config.max_instance_memory_gib,
        )
    pattern = envelope.instance_types
    # Both ends of a range: a pod allowed a cheap type and a dear one may land on either.
    low_name = pod.low_placement.instance_type if pod.low_placement is not None else None
    outside = [
        name
        for name in dict.fromkeys((instance_name, low_name))
        if name and pattern is not None and pattern.fullmatch(name) is None
    ]
    if outside:
        allowed = ", ".join(config.allowed_instance_types)
        names = " and ".join(outside)
        findings.append(
            Finding(
                key="allowedInstanceTypes",
                what=f"instance type {names} {'is' if len(outside) == 1 else 'are'} not in the "
                f"envelope ({allowed})",
                fix=f"pick an instance type matching {allowed}",
                numbers={"instance_type": ", ".join(outside)},
            )
        )
    if not findings and not notices:
        return NOTHING
    return Outcome(findings=tuple(findings), notices=notices)


def _end(config: SizeEnvelope, pod: PodEstimate) -> str:
    """` (the high end of $1.00–$6.88/h)` for a range, else ``."""
    if not pod.ranged:
        return ""
    span = wording.price_range(pod.low_hourly.total, pod.hourly.total, pod.currency)
    return f" (the {config.charge} end of {span}/h)"


def _unpriced(envelope: Envelope, review: Review) -> tuple[list[Finding], tuple[str, ...]]:
    """What the rule says of a pod it cannot judge for want of a price, per `unpriced`."""
    config = envelope.spec
    pod = review.target.estimate.pod
    reasons = wording.unpriced(pod.unpriced)
    if config.unpriced == "allow":
        return [], (f"envelope's price and instance bounds not checked: {reasons}",)
    action: Action | None = None
    if config.unpriced == "warn":
        action = "dryrun" if envelope.action == "dryrun" else "warn"
    return [
        Finding(
            key="unpriced",
            what=f"pod cost cannot be held to the envelope: {reasons}",
            fix=wording.ADD_A_PRICE,
            numbers={"unpriced": "; ".join(pod.unpriced), "behaviour": config.unpriced},
            action=action,
        )
    ], ()


def _show(key: str, limit: Decimal, currency: str) -> str:
    if key == "maxHourly":
        return f"{wording.money(limit, currency)}/h"
    if "Memory" in key:
        return f"{wording.number(limit)} GiB"
    return wording.number(limit)


KIND = RuleKind(
    field="sizeEnvelope",
    spec=SizeEnvelope,
    check=check,
    compile=compile_envelope,
    updates=frozenset({"spec", "resize"}),  # a pod grown in place is as big as a new one
)
