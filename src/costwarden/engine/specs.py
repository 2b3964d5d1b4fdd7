"""What every rule kind's spec is made of: the model base and the field types of the policy
language (durations, expiries, regular expressions, money), shared by the rule kinds
(`engine.rules`) and the policy documents (`policies.models`).

Every model is frozen and forbids unknown keys, so a typo is an error naming file, document,
path and line. Money is `Decimal`. Regular expressions are compiled here, once, at load —
never per request.
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
)
from pydantic.alias_generators import to_camel

from costwarden.engine import wording
from costwarden.schedules import parse_duration as parse_duration  # the one duration syntax

Action = Literal["deny", "warn", "dryrun"]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
SpotCloud = Literal["karpenter", "eks", "gke", "aks"]

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")]
"""A DNS-1123-like name: rule names appear in every message as `[rule-name]`."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is a string like 6h, 90m, 1h30m or 2d")
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return duration


format_duration = wording.duration
"""The inverse of `parse_duration`: 90 days -> `90d`, 90 minutes -> `1h30m`."""


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


Timezone = Annotated[str, AfterValidator(_timezone)]
"""An IANA time zone name (`Europe/Berlin`)."""


class SpecModel(BaseModel):
    """The base of every policy-language model: frozen, unknown keys refused, camelCase."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        defer_build=True,  # validators are built when a document is first read
        arbitrary_types_allowed=True,
        use_attribute_docstrings=False,  # read by the JSON Schema alone (`policies.schema`)
    )
