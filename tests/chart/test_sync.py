"""Files derived from elsewhere stay in sync: the package's and the chart's copies of
policies/, the chart's copy of the bundled catalog, the chart README's values table, and
deploy/manifests/costwarden.yaml."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import pytest
import yaml
from tests.chart.conftest import CHART, Render, of_kind, split, sync_script
from tests.conftest import ROOT

from costwarden.policies import loading

PLAIN = ROOT / "deploy" / "manifests" / "costwarden.yaml"


@pytest.fixture(scope="module")
def sync() -> ModuleType:
    return sync_script()


def test_the_chart_carries_exactly_the_policy_files_of_policies_dir(sync: ModuleType) -> None:
    expected = {key: path.read_bytes() for key, path in sync.policy_sources().items()}
    copied = {
        p.name: p.read_bytes() for p in (CHART / "files" / "policies").glob("*") if p.suffix != ""
    }
    assert copied == expected, "run scripts/sync-chart-files"


def test_the_default_policy_set_is_every_policy_file_of_policies_dir_unchanged(
    sync: ModuleType,
) -> None:
    # `policies/` is the source; the packaged copy is what check, lint and serve load when
    # no --policies is given: the same policy files, the suites left in the repository.
    source = ROOT / "policies"
    expected = {p.relative_to(source): p.read_bytes() for p in source.rglob("*.y*ml")}
    expected = {path: text for path, text in expected.items() if path.name != "tests.yaml"}
    assert set(expected) == set(sync.packaged_policy_sources())
    packaged = {
        p.relative_to(loading.BUNDLED_DIR): p.read_bytes()
        for p in loading.BUNDLED_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert packaged == expected, "run scripts/sync-chart-files"


def test_the_packaged_copy_keeps_the_tree_and_leaves_the_policy_tests_out(
    sync: ModuleType, tmp_path: Path
) -> None:
    for name in ("labels.yaml", "gpu/limits.yml", "gpu/tests.yaml", "README.md", ".hidden/x.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    assert set(sync.packaged_policy_sources(tmp_path)) == {
        Path("labels.yaml"),
        Path("gpu/limits.yml"),
    }


def test_the_chart_carries_the_bundled_catalog_unchanged(sync: ModuleType) -> None:
    copy = CHART / "files" / "catalog" / "default.yaml"
    if sync.CATALOG.is_file():
        assert copy.read_bytes() == sync.CATALOG.read_bytes(), "run scripts/sync-chart-files"
    else:
        assert not copy.exists()


def test_nothing_generated_is_out_of_date(sync: ModuleType) -> None:
    assert sync.out_of_date() == [], "run scripts/sync-chart-files"


def test_policy_tests_and_non_yaml_files_stay_out_and_subdirectories_flatten(
    sync: ModuleType, tmp_path: Path
) -> None:
    for name in (
        "labels.yaml",
        "gpu/limits.yml",
        "gpu/tests.yaml",
        "gpu/limits-tests.yaml",
        "budgets/tests/case.yaml",
        "README.md",
        "schema.json",
        ".hidden/x.yaml",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    assert set(sync.policy_sources(tmp_path)) == {"labels.yaml", "gpu--limits.yml"}


def test_the_chart_readme_lists_every_value(sync: ModuleType) -> None:
    values_text = (CHART / "values.yaml").read_text()
    readme = (CHART / "README.md").read_text()

    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node:
            return [k for key, v in node.items() for k in leaves(v, f"{prefix}{key}.")]
        return [prefix.rstrip(".")]

    every_key = leaves(yaml.safe_load(values_text))
    documented = [key for key, _ in sync.values_docs(values_text)]
    assert documented == every_key
    missing = [key for key in every_key if f"`{key}`" not in readme]
    assert missing == []


def test_every_value_has_a_description_in_values_yaml(sync: ModuleType) -> None:
    undocumented = [
        key for key, doc in sync.values_docs((CHART / "values.yaml").read_text()) if not doc
    ]
    assert undocumented == []


def test_plain_manifests_are_the_chart_rendered_with_cert_manager(render: Render) -> None:
    documents = [d for d in yaml.safe_load_all(PLAIN.read_text()) if d]
    values = yaml.safe_load((ROOT / "deploy" / "manifests" / "values.yaml").read_text())
    rendered = render(values, namespace="costwarden")
    assert documents[0]["kind"] == "Namespace"
    assert documents[0]["metadata"]["name"] == "costwarden"
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    crds = [yaml.safe_load(crd["data"]) for crd in helm_python.Chart.load(CHART).crds]
    assert crds, "the chart ships its CRDs in crds/"
    # Helm installs crds/ before any template; so do the plain manifests.
    assert documents[1 : 1 + len(crds)] == crds
    assert sorted(documents[1:], key=key) == sorted([*crds, *rendered], key=key)
    assert of_kind(documents, "Certificate")
    assert of_kind(documents, "Secret") == []


def test_plain_manifests_validate_for_every_claimed_kubernetes_version() -> None:
    from tests.chart.test_rendering import CRD_KINDS, claimed_versions, kubernetes_validate

    validator = kubernetes_validate()
    documents = [d for d in yaml.safe_load_all(PLAIN.read_text()) if d]
    for version in claimed_versions():
        for obj in documents:
            if obj["kind"] not in CRD_KINDS:
                validator.validate(obj, f"{version}.0", strict=True)


def test_split_ignores_notes_and_empty_documents() -> None:
    objects = split({"a/NOTES.txt": "kind: X", "a/b.yaml": "\n---\nkind: Y\n---\n# only\n"})
    assert objects == [{"kind": "Y"}]
