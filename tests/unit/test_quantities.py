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


def test_a_quantity_longer_than_any_int64_is_refused_before_it_is_parsed_or_kept() -> None:
    # "000…0001" is a valid quantity of 1 however many zeros lead it: a pod could carry a
    # megabyte of them into the quantity memo, thousands of times over.
    padded = "0" * 2**20 + "1"
    with pytest.raises(quantities.QuantityError, match=r"1,048,577 characters\) is not a"):
        quantities.parse(padded)
    assert quantities.parse("0" * 40 + "1") == 1  # within the bound: read as the API server does
