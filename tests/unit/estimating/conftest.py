"""The price catalog these tests price against (see `sample_catalog`)."""

from __future__ import annotations

import pytest
from tests.unit.estimating.sample_catalog import build_catalog

from costwarden.catalog.models import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return build_catalog()
