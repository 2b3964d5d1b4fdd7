"""Catalog loading and lookups: what reading the catalog costs at start and per reload,
and what an accelerator-label lookup costs on the request path.

Loading happens at start and on reload, never per request; the ratio to a plain
`yaml.load` of the same file shows what validation, checks and indexing add.
"""

from __future__ import annotations

import yaml
from timing import per_call_us

from costwarden.catalog import loading


def main() -> None:
    text = loading.BUNDLED.read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    load_us = per_call_us(loading.load_catalog, number=20)
    yaml_us = per_call_us(lambda: yaml.load(text, Loader=loader), number=20)
    catalog = loading.bundled_catalog()
    lookup_us = per_call_us(
        lambda: catalog.accelerator_for("NVIDIA-A100-SXM4-40GB"), number=100_000
    )
    spot_us = per_call_us(
        lambda: catalog.spot_hourly(catalog.instance_types["r6i.2xlarge"]), number=100_000
    )
    print(
        f"bundled catalog: {len(catalog.instance_types)} instance types, "
        f"{len(catalog.accelerators)} accelerators"
    )
    print(f"load_catalog():               {load_us:9.1f} µs")
    print(f"yaml.load of the same file:   {yaml_us:9.1f} µs  (load is {load_us / yaml_us:.1f}x)")
    print(f"accelerator_for(GFD label):   {lookup_us:9.3f} µs")
    print(f"spot_hourly(instance):        {spot_us:9.3f} µs")
