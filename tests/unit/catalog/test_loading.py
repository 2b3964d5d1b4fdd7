"""Composing catalogs, and reporting every problem in them with file, document, path and line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.catalog import loading
from costwarden.documents import InvalidInput, Problem

D = Decimal
WriteCatalog = Callable[[str, str], Path]  # the conftest fixtures' types
LineOf = Callable[..., int]
FALLBACK = """\
  fallback:
    cpuHourly: 0.04
    memoryGiBHourly: 0.005
    source: on-prem finance sheet
    effectiveDate: 2026-10-01
"""


def problems_of(paths: list[Path], *, include_bundled: bool = True) -> list[Problem]:
    with pytest.raises(InvalidInput) as raised:
        loading.load_catalog(paths, include_bundled=include_bundled)
    return list(raised.value.problems)


def only(problems: list[Problem], path: str) -> Problem:
    matching = [p for p in problems if p.path == path]
    assert len(matching) == 1, problems
    return matching[0]


# --- composition -----------------------------------------------------------------------


def test_user_instance_type_replaces_the_bundled_one_and_keeps_the_rest(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog(
        "prices.yaml",
        """\
        spec:
          instanceTypes:
          - name: p4d.24xlarge
            provider: aws
            region: us-west-2
            vcpu: 96
            memoryGiB: 1152
            accelerators: {model: a100-40gb, count: 8}
            onDemandHourly: 14.5
            source: our EDP rate card
            effectiveDate: 2026-10-01
        """,
    )
    catalog = loading.load_catalog([user])
    p4d = catalog.instance_types["p4d.24xlarge"]
    assert p4d.on_demand_hourly == D("14.5")
    assert type(p4d.on_demand_hourly) is Decimal
    assert p4d.region == "us-west-2"
    assert p4d.spot_hourly is None  # replaced whole: the bundled Spot figure is gone
    bundled = loading.bundled_catalog()
    assert catalog.instance_types["g5.xlarge"] == bundled.instance_types["g5.xlarge"]
    assert set(catalog.instance_types) == set(bundled.instance_types)
    assert catalog.name == "costwarden-default + team-prices"


def test_user_catalog_extends_the_bundled_one_with_new_models_and_types(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog(
        "amd.yaml",
        """\
        spec:
          accelerators:
          - model: mi300x
            resource: amd.com/gpu
            vendor: amd
            hourly: 4.2
            source: neocloud quote Q-17
            effectiveDate: 2026-09-01
            aliases: [AMD-Instinct-MI300X]
          instanceTypes:
          - name: mi300x-8
            provider: other
            region: dc-1
            vcpu: 128
            memoryGiB: 2048
            accelerators: {model: mi300x, count: 8}
            onDemandHourly: 36
            source: neocloud quote Q-17
            effectiveDate: 2026-09-01
          - name: big-notebook
            provider: other
            region: dc-1
            vcpu: 16
            memoryGiB: 64
            accelerators: {model: a100-40gb, count: 1}
            onDemandHourly: 2.5
            source: neocloud quote Q-17
            effectiveDate: 2026-09-01
        """,
    )
    catalog = loading.load_catalog([user])
    assert catalog.instance_types["mi300x-8"].on_demand_hourly == D("36")
    accelerator = catalog.accelerator_for("amd-instinct-mi300x")
    assert accelerator is not None
    assert accelerator.resource == "amd.com/gpu"
    assert catalog.accelerator_for("mi300x") is accelerator
    # a partial catalog: no fallback of its own, a bundled model used by a new type
    assert catalog.fallback == loading.bundled_catalog().fallback
    assert "p5.48xlarge" in catalog.instance_types


def test_replacing_an_accelerator_replaces_its_aliases(write_catalog: WriteCatalog) -> None:
    user = write_catalog(
        "a100.yaml",
        """\
        spec:
          accelerators:
          - model: a100-80gb
            hourly: 2.0
            source: reserved-instance rate
            effectiveDate: 2026-10-01
            aliases: [a100]
        """,
    )
    catalog = loading.load_catalog([user])
    a100_80 = catalog.accelerators["a100-80gb"]
    assert a100_80.hourly == D("2.0")
    assert a100_80.mig_slices is None
    assert catalog.accelerator_for("NVIDIA-A100-SXM4-80GB") is None  # bundled aliases gone
    assert catalog.accelerator_for("a100") is a100_80  # the later claim on an alias wins
    assert catalog.accelerator_for("NVIDIA-A100-SXM4-40GB") is catalog.accelerators["a100-40gb"]


def test_later_files_override_earlier_ones_and_fallback_is_replaced(
    write_catalog: WriteCatalog, tmp_path: Path
) -> None:
    write_catalog(
        "dir/10-base.yaml",
        "spec:\n" + FALLBACK,
    )
    write_catalog(
        "dir/20-override.yaml",
        """\
        spec:
          fallback:
            cpuHourly: 0.05
            memoryGiBHourly: 0.006
            spotDiscount: 0.5
            source: second sheet
            effectiveDate: 2026-11-01
        """,
    )
    catalog = loading.load_catalog([tmp_path / "dir"])
    assert catalog.fallback.cpu_hourly == D("0.05")
    assert catalog.fallback.spot_discount == D("0.5")
    assert catalog.fallback.source == "second sheet"


def test_a_catalog_without_the_bundled_one_must_bring_its_own_fallback(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog("alone.yaml", "spec:\n  currency: USD\n")
    problem = only(problems_of([user], include_bundled=False), "spec")
    assert "no fallback prices" in problem.message
    assert (problem.source, problem.document, problem.line) == (
        str(user),
        0,
        line_of(user, "spec:"),
    )
    with_fallback = write_catalog("fallback.yaml", "spec:\n" + FALLBACK)
    catalog = loading.load_catalog([with_fallback], include_bundled=False)
    assert catalog.instance_types == {}
    assert catalog.fallback.cpu_hourly == D("0.04")


def test_numbers_are_read_exactly_as_written(write_catalog: WriteCatalog) -> None:
    user = write_catalog(
        "exact.yaml",
        """\
        spec:
          fallback:
            cpuHourly: 0.1
            memoryGiBHourly: "0.000000001"
            source: exactness check
            effectiveDate: 2026-10-01
        """,
    )
    fallback = loading.load_catalog([user]).fallback
    assert fallback.cpu_hourly == D("0.1")
    assert str(fallback.cpu_hourly) == "0.1"
    assert fallback.memory_gib_hourly == D("1E-9")


def test_the_bundled_catalog_given_again_is_one_catalog_of_one_version(
    tmp_path: Path,
) -> None:
    # What the Helm chart does: it mounts a copy of the bundled catalog and serve loads the
    # bundled one first, then the mounted directory.
    copy = tmp_path / "catalog" / "default.yaml"
    copy.parent.mkdir()
    copy.write_text(loading.BUNDLED.read_text(encoding="utf-8"), encoding="utf-8")
    catalog = loading.load_catalog([copy.parent])
    bundled = loading.bundled_catalog()
    assert (catalog.name, catalog.version) == (bundled.name, bundled.version)
    assert " + " not in catalog.version
    assert catalog == bundled


def test_a_newer_edition_replaces_the_older_whole_in_its_place(
    write_catalog: WriteCatalog,
) -> None:
    bundled = loading.bundled_catalog()
    team = write_catalog(
        "a-team.yaml",
        """\
        spec:
          instanceTypes:
          - name: g5.xlarge
            provider: aws
            region: us-east-1
            vcpu: 4
            memoryGiB: 16
            onDemandHourly: 0.80
            source: our EDP rate card
            effectiveDate: 2026-10-01
        """,
    )
    later = "    source: a later price list\n    effectiveDate: 2099-01-01\n"
    newer = write_catalog(
        "default.yaml",
        "apiVersion: costwarden.io/v1alpha1\nkind: PriceCatalog\n"
        f'metadata: {{name: {bundled.name}, version: "2099-01-01"}}\n'
        f"spec:\n{FALLBACK}  instanceTypes:\n"
        "  - name: g5.xlarge\n    provider: aws\n    region: us-east-1\n"
        f"    vcpu: 4\n    memoryGiB: 16\n    onDemandHourly: 9.99\n{later}"
        "  - name: m6i.large\n    provider: aws\n    region: us-east-1\n"
        f"    vcpu: 2\n    memoryGiB: 8\n    onDemandHourly: 0.1\n{later}",
    )
    catalog = loading.load_catalog([team, newer])
    # Whole: what the newer edition dropped is gone; in its place: the team still wins.
    assert set(catalog.instance_types) == {"g5.xlarge", "m6i.large"}
    assert catalog.instance_types["g5.xlarge"].on_demand_hourly == D("0.80")
    assert catalog.fallback.cpu_hourly == D("0.04")
    assert catalog.name == f"{bundled.name} + team-prices"
    assert catalog.version == "2099-01-01 + 2026-11"


def test_documents_of_one_name_and_version_are_parts_of_one_catalog(
    write_catalog: WriteCatalog,
) -> None:
    part = """\
        spec:
          instanceTypes:
          - name: {name}
            provider: other
            region: dc-1
            vcpu: 2
            memoryGiB: 8
            onDemandHourly: 0.1
            source: on-prem finance sheet
            effectiveDate: 2026-10-01
        """
    first = write_catalog("one.yaml", part.format(name="box-a"))
    second = write_catalog("two.yaml", part.format(name="box-b"))
    catalog = loading.load_catalog([first, second])
    assert {"box-a", "box-b"} <= set(catalog.instance_types)
    assert catalog.name == "costwarden-default + team-prices"
    assert catalog.version == f"{loading.bundled_catalog().version} + 2026-11"


def test_nothing_to_load_is_a_problem() -> None:
    (problem,) = problems_of([], include_bundled=False)
    assert problem.message == "no catalog documents to load"


# --- one problem of each kind ----------------------------------------------------------


def test_duplicate_instance_type_in_one_document_is_reported_where_the_second_one_is(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "dup.yaml",
        """\
        spec:
          instanceTypes:
          - {name: m6i.large, provider: aws, region: us-east-1, vcpu: 2, memoryGiB: 8,
             onDemandHourly: 0.096, source: s, effectiveDate: 2026-01-19}
          - {name: m6i.large, provider: aws, region: us-east-1, vcpu: 2, memoryGiB: 8,
             onDemandHourly: 0.1, source: s, effectiveDate: 2026-01-19}
        """,
    )
    problem = only(problems_of([user]), "spec.instanceTypes[1].name")
    assert "duplicate instance type 'm6i.large'" in problem.message
    assert "spec.instanceTypes[0]" in problem.message
    assert (problem.source, problem.document) == (str(user), 0)
    assert problem.line == line_of(user, "name: m6i.large", occurrence=2)


def test_duplicate_accelerator_model_in_one_document_is_reported(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "dup-acc.yaml",
        """\
        spec:
          accelerators:
          - model: l4
            hourly: 0.6
            source: s
            effectiveDate: 2026-01-01
          - model: l4
            hourly: 0.7
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problem = only(problems_of([user]), "spec.accelerators[1].model")
    assert "duplicate accelerator model 'l4'" in problem.message
    assert problem.line == line_of(user, "model: l4", occurrence=2)


def test_instance_naming_an_undefined_accelerator_model_is_reported(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "undefined.yaml",
        """\
        spec:
          instanceTypes:
          - name: gb300-box
            provider: other
            region: dc-1
            vcpu: 224
            memoryGiB: 2048
            accelerators:
              model: gb300
              count: 8
            onDemandHourly: 90
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problem = only(problems_of([user]), "spec.instanceTypes[0].accelerators.model")
    assert "'gb300' is not defined in any composed catalog" in problem.message
    assert "a100-40gb" in problem.message  # says which models exist
    assert problem.line == line_of(user, "model: gb300")


def test_spot_above_on_demand_is_reported_for_instances_and_accelerators(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "spot.yaml",
        """\
        spec:
          accelerators:
          - model: l4
            hourly: 0.6
            spotHourly: 0.9
            source: s
            effectiveDate: 2026-01-01
          instanceTypes:
          - name: g6.xlarge
            provider: aws
            region: us-east-1
            vcpu: 4
            memoryGiB: 16
            accelerators: {model: l4, count: 1}
            onDemandHourly: 0.8048
            spotHourly: 1.2
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problems = problems_of([user])
    accelerator = only(problems, "spec.accelerators[0].spotHourly")
    assert "spotHourly 0.9 is above hourly 0.6" in accelerator.message
    assert accelerator.line == line_of(user, "spotHourly: 0.9")
    instance = only(problems, "spec.instanceTypes[0].spotHourly")
    assert "spotHourly 1.2 is above onDemandHourly 0.8048" in instance.message
    assert instance.line == line_of(user, "spotHourly: 1.2")


def test_currency_mismatch_between_composed_catalogs_is_reported(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog("eur.yaml", "spec:\n  currency: EUR\n")
    problem = only(problems_of([user]), "spec.currency")
    assert "currency EUR differs from USD" in problem.message
    assert "default.yaml" in problem.message
    assert (problem.source, problem.line) == (str(user), line_of(user, "currency: EUR"))


def test_a_catalog_that_names_no_currency_takes_the_composed_one(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog("none.yaml", "spec:\n" + FALLBACK)
    assert loading.load_catalog([user]).currency == "USD"


def test_negative_price_is_reported(write_catalog: WriteCatalog, line_of: LineOf) -> None:
    user = write_catalog(
        "negative.yaml",
        """\
        spec:
          accelerators:
          - model: t4
            hourly: -0.3
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problem = only(problems_of([user]), "spec.accelerators[0].hourly")
    assert "greater than or equal to 0" in problem.message
    assert problem.line == line_of(user, "hourly: -0.3")


def test_unknown_field_is_reported_with_its_camel_case_path(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "typo.yaml",
        """\
        spec:
          fallback:
            cpuHourly: 0.04
            memoryGiBHourly: 0.005
            spotDiscont: 0.5
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problem = only(problems_of([user]), "spec.fallback.spotDiscont")
    assert "unknown field" in problem.message
    assert problem.line == line_of(user, "spotDiscont")


def test_python_field_names_are_not_accepted_in_place_of_the_camel_case_ones(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog(
        "snake.yaml",
        """\
        spec:
          fallback:
            cpu_hourly: 0.04
            memoryGiBHourly: 0.005
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    problems = problems_of([user])
    assert "unknown field" in only(problems, "spec.fallback.cpu_hourly").message
    assert only(problems, "spec.fallback.cpuHourly").message == "required field is missing"


def test_missing_effective_date_and_source_are_reported(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "undated.yaml",
        """\
        spec:
          instanceTypes:
          - name: m6i.large
            provider: aws
            region: us-east-1
            vcpu: 2
            memoryGiB: 8
            onDemandHourly: 0.096
        """,
    )
    problems = problems_of([user])
    for field in ("effectiveDate", "source"):
        problem = only(problems, f"spec.instanceTypes[0].{field}")
        assert problem.message == "required field is missing"
        assert problem.line == line_of(user, "name: m6i.large")  # the entry that lacks it


def test_yaml_syntax_errors_and_duplicate_keys_are_reported_with_their_line(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    broken = write_catalog("broken.yaml", "spec:\n  currency: [USD\n")
    doubled = write_catalog("doubled.yaml", "spec:\n  currency: USD\n  currency: USD\n")
    problems = problems_of([broken, doubled])
    (syntax,) = [p for p in problems if p.source == str(broken)]
    assert syntax.message.startswith("not valid YAML")
    assert syntax.line is not None
    (duplicate,) = [p for p in problems if p.source == str(doubled)]
    assert duplicate.path == "spec.currency"
    assert duplicate.line == line_of(doubled, "currency", occurrence=2)


def test_unreadable_paths_and_empty_directories_are_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing.yaml"
    problems = problems_of([empty, missing])
    assert [(p.source, p.message) for p in problems] == [
        (str(empty), "directory holds no catalog files (*.yaml, *.yml, *.json)"),
        (str(missing), "cannot read file: No such file or directory"),
    ]


def test_a_document_that_is_not_a_price_catalog_is_reported(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog(
        "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n---\n- 1\n"
    )
    problems = problems_of([user])
    assert {p.path for p in problems if p.document == 0} >= {"apiVersion", "kind"}
    (not_mapping,) = [p for p in problems if p.document == 1]
    assert "must be a mapping" in not_mapping.message


# --- all at once ------------------------------------------------------------------------


def test_every_problem_in_every_file_is_reported_at_once_in_file_order(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    first = write_catalog(
        "a.yaml",
        """\
        spec:
          currency: EUR
          instanceTypes:
          - name: x1
            provider: aws
            region: us-east-1
            vcpu: 2
            memoryGiB: 8
            accelerators: {model: nope, count: 1}
            onDemandHourly: -1
            source: s
            effectiveDate: 2026-01-01
          - name: x2
            provider: aws
            region: us-east-1
            vcpu: 2
            memoryGiB: 8
            accelerators: {model: nope, count: 1}
            onDemandHourly: 1
            source: s
            effectiveDate: 2026-01-01
        """,
    )
    second = write_catalog(
        "b.yaml",
        """\
        apiVersion: costwarden.io/v1alpha1
        kind: PriceCatalog
        metadata: {name: first}
        spec:
          accelerators:
          - model: l4
            hourly: 0.6
            colour: green
            effectiveDate: 2026-01-01
        ---
        apiVersion: costwarden.io/v1alpha1
        kind: PriceCatalog
        metadata: {name: second}
        spec:
          instanceTypes:
          - {name: y, provider: aws, region: r, vcpu: 1, memoryGiB: 1,
             onDemandHourly: 1, spotHourly: 2, source: s, effectiveDate: 2026-01-01}
          - {name: y, provider: aws, region: r, vcpu: 1, memoryGiB: 1,
             onDemandHourly: 1, source: s, effectiveDate: 2026-01-01}
        """,
    )
    problems = problems_of([first, second])
    found = {(p.source, p.document, p.path) for p in problems}
    assert found == {
        (str(first), 0, "spec.instanceTypes[0].onDemandHourly"),
        (str(second), 0, "spec.accelerators[0].colour"),
        (str(second), 0, "spec.accelerators[0].source"),
        (str(second), 1, "spec.instanceTypes[0].spotHourly"),
        (str(second), 1, "spec.instanceTypes[1].name"),
    }
    # a.yaml's first document failed validation, so its other entries could not be composed;
    # fixing it brings out the composition problems too:
    assert [p.source for p in problems] == sorted(p.source for p in problems)
    assert all(p.line is not None for p in problems)
    first.write_text(first.read_text().replace("onDemandHourly: -1", "onDemandHourly: 1"))
    problems = problems_of([first, second])
    composed = {(p.source, p.path) for p in problems if p.source == str(first)}
    assert composed == {
        (str(first), "spec.currency"),
        (str(first), "spec.instanceTypes[0].accelerators.model"),
        (str(first), "spec.instanceTypes[1].accelerators.model"),
    }
    assert only(problems, "spec.currency").line == line_of(first, "currency: EUR")


def test_lint_returns_the_problems_instead_of_raising(write_catalog: WriteCatalog) -> None:
    user = write_catalog("eur.yaml", "spec:\n  currency: EUR\n")
    problems = loading.lint_catalogs([user])
    assert [p.path for p in problems] == ["spec.currency"]
    assert loading.lint_catalogs([]) == []


def test_two_models_claiming_one_alias_in_a_document_is_reported(
    write_catalog: WriteCatalog, line_of: LineOf
) -> None:
    user = write_catalog(
        "aliases.yaml",
        """\
        spec:
          accelerators:
          - {model: a, hourly: 1, source: s, effectiveDate: 2026-01-01, aliases: [GPU-X]}
          - {model: b, hourly: 1, source: s, effectiveDate: 2026-01-01, aliases: [y, gpu-x]}
        """,
    )
    problem = only(problems_of([user]), "spec.accelerators[1].aliases[1]")
    assert problem.message == "alias 'gpu-x' already names accelerator model 'a'"
    assert problem.line == line_of(user, "model: b")


def test_schema_errors_do_not_hide_duplicates_in_the_same_document(
    write_catalog: WriteCatalog,
) -> None:
    user = write_catalog(
        "both.yaml",
        """\
        spec:
          currency: dollars
          instanceTypes:
          - {name: z, provider: aws, region: r, vcpu: 1, memoryGiB: 1, onDemandHourly: "1",
             spotHourly: "1.5", source: s, effectiveDate: 2026-01-01}
          - {name: z, provider: aws, region: r, vcpu: 1, memoryGiB: 1, onDemandHourly: 1,
             source: s, effectiveDate: 2026-01-01}
        """,
    )
    paths = {p.path for p in problems_of([user])}
    assert paths == {
        "spec.currency",
        "spec.instanceTypes[0].spotHourly",
        "spec.instanceTypes[1].name",
    }
