from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from costwarden import cli, documents


def test_reads_every_document_with_the_line_of_each_path() -> None:
    text = "a: 1\n---\nspec:\n  items:\n  - name: x\n  - name: y\n"
    docs = documents.read_documents(text, source="f.yaml")
    assert [d.index for d in docs] == [0, 1]
    assert docs[1].line_of(("spec", "items", 1, "name")) == 6
    assert docs[1].line_of(("spec", "items", 1, "missing")) == 6


def test_empty_documents_are_skipped_but_still_counted() -> None:
    docs = documents.read_documents("---\n---\nkind: Pod\n", source="f.yaml")
    assert len(docs) == 1
    assert docs[0].data == {"kind": "Pod"}


def test_exact_numbers_reads_floats_as_decimals() -> None:
    (doc,) = documents.read_documents("price: 0.1\n", source="f", exact_numbers=True)
    assert doc.data["price"] == Decimal("0.1")


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_documents("a: 1\nb: [1, 2\n", source="bad.yaml")
    (problem,) = caught.value.problems
    assert problem.source == "bad.yaml"
    assert problem.line is not None
    assert str(problem).startswith("bad.yaml:")


def test_duplicate_key_is_a_problem_at_its_line() -> None:
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_documents("a: 1\nb: 2\na: 3\n", source="dup.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("a", 3)


def test_validation_errors_become_positioned_problems() -> None:
    class Item(BaseModel):
        model_config = ConfigDict(extra="forbid")
        price: Decimal

    (doc,) = documents.read_documents("items:\n- price: 1\n- price: x\n  colour: red\n", source="c")
    with pytest.raises(ValidationError) as caught:
        Item.model_validate(doc.data["items"][1])
    problems = documents.problems_from_validation(caught.value, doc, base=("items", 1))
    assert {(p.path, p.line) for p in problems} == {("items[1].price", 3), ("items[1].colour", 4)}
    assert any("unknown field" in p.message for p in problems)


def test_read_files_walks_directories_and_reports_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("kind: B\n")
    (tmp_path / "a.yml").write_text("kind: A\n")
    (tmp_path / "notes.txt").write_text("ignored")
    docs = documents.read_files([tmp_path])
    assert [d.data["kind"] for d in docs] == ["A", "B"]
    with pytest.raises(documents.InvalidInput) as caught:
        documents.read_files([tmp_path / "missing.yaml"])
    assert "cannot read file" in str(caught.value)


def test_read_files_skips_the_hidden_internals_of_a_mounted_configmap(tmp_path: Path) -> None:
    # kubelet's layout: real files in ..<timestamp>/, ..data -> it, each name -> ..data/name
    real = tmp_path / "..2026_11_22_10_00_00.1"
    real.mkdir()
    (real / "policy.yaml").write_text("kind: P\n")
    (tmp_path / "..data").symlink_to(real.name)
    (tmp_path / "policy.yaml").symlink_to("..data/policy.yaml")
    docs = documents.read_files([tmp_path])
    assert [(d.source, d.data) for d in docs] == [(str(tmp_path / "policy.yaml"), {"kind": "P"})]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "rules", 2, "match"), "spec.rules[2].match"),
        (("requests", "nvidia.com/gpu"), 'requests["nvidia.com/gpu"]'),
        (
            ("nodeSelector", "karpenter.sh/capacity-type"),
            'nodeSelector["karpenter.sh/capacity-type"]',
        ),
        (("labels", "cost-centre"), "labels.cost-centre"),
        (("data", "a[0]"), 'data["a[0]"]'),
        (("data", ""), 'data[""]'),
        ((0, "name"), "[0].name"),
    ],
)
def test_paths_are_unambiguous_for_keys_with_dots_or_brackets(path, text):
    assert documents.format_path(path) == text


def test_an_unquoted_date_is_the_text_kubectl_would_send() -> None:
    (doc,) = documents.read_documents(
        "metadata:\n  annotations: {costwarden.io/exception-expires: 2026-12-31}\n", source="p"
    )
    assert doc.data["metadata"]["annotations"]["costwarden.io/exception-expires"] == "2026-12-31"


def test_an_impossible_date_is_a_problem_naming_its_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "x.yaml").write_text(
        "apiVersion: costwarden.io/v1alpha1\nkind: PolicyException\nmetadata: {name: x}\n"
        "spec: {rules: [a], expires: 2026-02-30, reason: r}\n"
    )
    assert cli.main(["lint", "--policies", str(policies)]) == 1
    out = capsys.readouterr()
    assert f"{policies / 'x.yaml'}:4: document 0: spec.expires: '2026-02-30' is not a date" in (
        out.out + out.err
    )
    assert "Traceback" not in out.out + out.err
