"""The README's catalog tables show what the bundled catalog really holds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.catalog import loading

FOOTNOTES = str.maketrans("", "", "¹²³")


def catalog_section_rows(readme: Path) -> list[list[str]]:
    text = readme.read_text(encoding="utf-8")
    start = text.index("<!-- section: catalog -->")
    ends = [text.find(marker, start + 1) for marker in ("<!-- section:", "\n## Development")]
    end = min(e for e in ends if e != -1)
    rows = []
    for line in text[start:end].splitlines():
        if line.startswith("| `"):
            cells = [cell.strip().strip("`").translate(FOOTNOTES) for cell in line.split("|")]
            rows.append(cells[1:-1])
    return rows


@pytest.fixture(scope="module")
def rows(pytestconfig: pytest.Config) -> list[list[str]]:
    return catalog_section_rows(pytestconfig.rootpath / "README.md")


def maybe(text: str) -> Decimal | None:
    return None if text == "—" else Decimal(text)


def test_readme_instance_table_matches_the_bundled_catalog(rows: list[list[str]]) -> None:
    catalog = loading.bundled_catalog()
    table = [row for row in rows if len(row) == 9]
    gpu_types = {n for n, t in catalog.instance_types.items() if t.accelerators is not None}
    assert {row[0] for row in table} == gpu_types
    for name, where, devices, vcpu, memory, hourly, spot, _, effective in table:
        instance = catalog.instance_types[name]
        assert instance.accelerators is not None
        assert where == f"{instance.provider} {instance.region}"
        assert devices == f"{instance.accelerators.count}× {instance.accelerators.model}"
        assert (Decimal(vcpu), Decimal(memory)) == (instance.vcpu, instance.memory_gib)
        assert Decimal(hourly) == instance.on_demand_hourly
        assert maybe(spot) == instance.spot_hourly
        assert date.fromisoformat(effective) == instance.effective_date


def test_readme_accelerator_table_matches_the_bundled_catalog(rows: list[list[str]]) -> None:
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
