"""The catalog tables of docs/prices.md show what the bundled catalog really holds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.catalog import loading

FOOTNOTES = str.maketrans("", "", "¹²")
PRICES = Path("docs") / "prices.md"

# The source keys of docs/prices.md: a text each entry's `source` holds, and texts it
# must not hold (the same generator at another commit is another source).
SOURCE_KEYS = {
    "[A]": ("aws/karpenter-provider-aws", ("commit 031e72b",)),
    "[a]": ("aws/karpenter-provider-aws pkg/providers/pricing/zz_generated", ()),
    "[G]": ("Cyclenerd/google-cloud-pricing-cost-calculator", ("commit 082120d", "commit 0166a59")),
    "[g]": ("Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (commit 082120d", ()),
    "[c]": ("Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (commit 0166a59", ()),
    "[z]": ("Azure/karpenter-provider-azure", ()),
}


def catalog_section_rows(document: Path) -> list[list[str]]:
    """Table rows (cells) from `<!-- section: catalog -->` to the next section marker or
    the end of the file."""
    text = document.read_text(encoding="utf-8")
    start = text.index("<!-- section: catalog -->")
    end = text.find("<!-- section:", start + 1)
    rows = []
    for line in text[start : end if end != -1 else len(text)].splitlines():
        if line.startswith("| `"):
            cells = [cell.strip().strip("`").translate(FOOTNOTES) for cell in line.split("|")]
            rows.append(cells[1:-1])
    return rows


@pytest.fixture(scope="module")
def rows(pytestconfig: pytest.Config) -> list[list[str]]:
    return catalog_section_rows(pytestconfig.rootpath / PRICES)


def maybe(text: str) -> Decimal | None:
    return None if text == "—" else Decimal(text)


def test_prices_instance_table_lists_every_bundled_instance_type(rows: list[list[str]]) -> None:
    catalog = loading.bundled_catalog()
    table = [row for row in rows if len(row) == 9]
    assert [row[0] for row in table] == list(catalog.instance_types)
    for name, where, devices, vcpu, memory, hourly, spot, source, effective in table:
        instance = catalog.instance_types[name]
        assert where == f"{instance.provider} {instance.region}"
        if instance.accelerators is None:
            assert devices == "—"
        else:
            assert devices == f"{instance.accelerators.count}× {instance.accelerators.model}"
        assert (Decimal(vcpu), Decimal(memory)) == (instance.vcpu, instance.memory_gib)
        assert Decimal(hourly) == instance.on_demand_hourly
        assert maybe(spot) == instance.spot_hourly
        assert date.fromisoformat(effective) == instance.effective_date
        cites, never = SOURCE_KEYS[source]
        assert cites in instance.source, name
        assert not any(text in instance.source for text in never), name


def test_prices_accelerator_table_matches_the_bundled_catalog(rows: list[list[str]]) -> None:
    catalog = loading.bundled_catalog()
    table = [row for row in rows if len(row) == 7]
    assert {row[0] for row in table} == set(catalog.accelerators)
    for model, resource, hourly, spot, mig, reference, effective in table:
        accelerator = catalog.accelerators[model]
        assert resource == accelerator.resource
        assert Decimal(hourly) == accelerator.hourly
        assert maybe(spot) == accelerator.spot_hourly
        assert (None if mig == "—" else int(mig)) == accelerator.mig_slices
        assert reference in accelerator.source
        assert date.fromisoformat(effective) == accelerator.effective_date


def test_prices_fallback_rates_match_the_bundled_catalog(pytestconfig: pytest.Config) -> None:
    fallback = loading.bundled_catalog().fallback
    text = (pytestconfig.rootpath / PRICES).read_text(encoding="utf-8")
    assert f"| `cpuHourly` | {fallback.cpu_hourly} $/vCPU-h |" in text
    assert f"| `memoryGiBHourly` | {fallback.memory_gib_hourly} $/GiB-h |" in text
    assert f"| `spotDiscount` | {fallback.spot_discount} |" in text
