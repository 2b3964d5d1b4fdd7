"""Kubernetes resource quantities ("100m", "16Gi", "1.5") as exact `Decimal`s.

Every quantity in costwarden goes through this one parser, which delegates to the official
client's `kubernetes.utils.parse_quantity` so we accept exactly what the API server accepts.
Results are memoised: manifests repeat a handful of strings ("1", "500m", "16Gi") and the
parse sits on the admission hot path.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import cast


def _kubernetes_quantity() -> ModuleType:
    """`kubernetes.utils.quantity`, loaded from its file: importing it by name first runs
    `kubernetes/__init__.py`, which imports the whole API client (and urllib3, requests,
    ...) for one function that needs only `decimal` and `re`. The offline commands would
    pay that at every start; `serve`, which imports the client anyway, reuses its module."""
    loaded = sys.modules.get("kubernetes.utils.quantity")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("kubernetes")  # finds it without running its __init__
    locations = package.submodule_search_locations if package is not None else None
    if locations:
        file = Path(next(iter(locations)), "utils", "quantity.py")
        spec = importlib.util.spec_from_file_location("kubernetes.utils.quantity", file)
        if file.is_file() and spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    from kubernetes.utils import quantity  # a layout we do not know: the plain import

    return quantity


_parse_quantity = cast("Callable[[str], Decimal]", _kubernetes_quantity().parse_quantity)

GIB = Decimal(1024**3)
MAX = Decimal(2**63 - 1)
"""The largest magnitude accepted: Kubernetes reads quantities as int64 (`Value()`);
beyond it, costs would overflow the precision that keeps money exact."""


MAX_LENGTH = 64
"""The longest quantity text read: 2^63 - 1 has 19 digits, a nano fraction 9 more; a longer
text is refused before it is parsed or memoised (the memo's keys are what pods carry)."""


class QuantityError(ValueError):
    """A string that is not a Kubernetes resource quantity."""


@lru_cache(maxsize=4096)
def _parse(text: str) -> Decimal:
    try:
        value = _parse_quantity(text)
    except ValueError as exc:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity ({exc})") from None
    value = Decimal(value)
    if not value.is_finite():  # Decimal reads "NaN" and "Infinity"; the API server does not
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    if abs(value) > MAX:
        raise QuantityError(f"{text!r} is too large (more than 2^63 - 1)")
    return value


def parse(quantity: str | int | float) -> Decimal:
    """Parse a quantity as it appears in a manifest (string, or a bare YAML/JSON number)."""
    if isinstance(quantity, bool):
        raise QuantityError(f"{quantity!r} is not a Kubernetes quantity")
    if isinstance(quantity, int):
        return Decimal(quantity)
    if isinstance(quantity, float):
        # A bare float in YAML (`cpu: 0.5`): go through its shortest repr, never its binary value.
        return _parse(repr(quantity))
    if not isinstance(quantity, str):
        raise QuantityError(f"{str(quantity)[:40]!r} is not a Kubernetes quantity")
    if len(quantity) > MAX_LENGTH:
        raise QuantityError(
            f"{quantity[:20]!r}… ({len(quantity):,} characters) is not a Kubernetes quantity: "
            f"at most {MAX_LENGTH} characters"
        )
    return _parse(quantity)


def to_gib(quantity: str | int | float) -> Decimal:
    """A memory quantity in GiB (bytes / 2**30)."""
    return parse(quantity) / GIB
