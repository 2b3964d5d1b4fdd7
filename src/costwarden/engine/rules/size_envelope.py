"""The `sizeEnvelope` rule kind: how big one pod, and the instance it lands on, may be."""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal
from typing import NamedTuple

from pydantic import model_validator

from costwarden.engine import wording
from costwarden.engine.findings import NOTHING, Finding, Outcome
from costwarden.engine.kinds import Head, Review, RuleKind
from costwarden.engine.specs import Count, Money, SpecModel


class SizeEnvelope(SpecModel):
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


class Envelope(NamedTuple):
    spec: SizeEnvelope
    instance_types: re.Pattern[str] | None
    """`allowedInstanceTypes` as one expression; None allows any."""


def compile_envelope(spec: SizeEnvelope, head: Head) -> Envelope:
    patterns = spec.allowed_instance_types
    if not patterns:
        return Envelope(spec, None)
    return Envelope(spec, re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)))


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
    over("maxHourly", "pod cost", pod.hourly.total, config.max_hourly)
    instance_name = pod.placement.instance_type
    instance = catalog.instance_types.get(instance_name) if instance_name else None
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
    if (
        instance_name
        and envelope.instance_types is not None
        and envelope.instance_types.fullmatch(instance_name) is None
    ):
        allowed = ", ".join(config.allowed_instance_types)
        findings.append(
            Finding(
                key="allowedInstanceTypes",
                what=f"instance type {instance_name} is not in the envelope ({allowed})",
                fix=f"pick an instance type matching {allowed}",
                numbers={"instance_type": instance_name},
            )
        )
    return Outcome(findings=tuple(findings)) if findings else NOTHING


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
