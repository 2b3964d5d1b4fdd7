from decimal import Decimal

import pytest

from costwarden import quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100m", Decimal("0.1")), ("2", Decimal(2)), ("1.5", Decimal("1.5")), ("1k", Decimal(1000))],
)
def test_parses_cpu_quantities_exactly(text: str, expected: Decimal) -> None:
    assert quantities.parse(text) == expected


def test_converts_memory_to_gib() -> None:
    assert quantities.to_gib("16Gi") == Decimal(16)
    assert quantities.to_gib("512Mi") == Decimal("0.5")


def test_bare_yaml_numbers_are_accepted_without_binary_float_error() -> None:
    assert quantities.parse(0.1) == Decimal("0.1")
    assert quantities.parse(4) == Decimal(4)


@pytest.mark.parametrize(
    "bad", ["lots", "1.2.3", "", True, "NaN", "Infinity", "-inf", "snan", "99999999999999Ei"]
)
def test_rejects_what_is_not_a_quantity(bad: object) -> None:
    with pytest.raises(quantities.QuantityError):
        quantities.parse(bad)  # type: ignore[arg-type]
