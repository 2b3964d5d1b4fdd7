"""The JSON Schema shipped for editors is generated from the models and kept in sync."""

from __future__ import annotations

import json

from costwarden.engine import rules as rules_registry
from costwarden.policies import schema


def test_shipped_schema_matches_the_models(pytestconfig):
    shipped = pytestconfig.rootpath / "src/costwarden/data/schema/costwarden.io_v1alpha1.json"
    assert shipped.read_text() == schema.render(), (
        "regenerate: python -m costwarden.policies.schema > "
        + str(shipped.relative_to(pytestconfig.rootpath))
    )


def test_schema_covers_every_document_kind_and_forbids_unknown_fields():
    generated = schema.json_schema()
    assert set(generated["discriminator"]["mapping"]) == {
        "CostPolicy",
        "PolicyException",
        "PolicyTest",
    }
    # A rule is one of the registered kinds' models; each names its kind's field as required
    # and forbids every other key, so an editor flags a misspelt or a second kind.
    rules = generated["$defs"]["CostPolicySpec"]["properties"]["rules"]["items"]["oneOf"]
    kinds = {kind.field for kind in rules_registry.KINDS}
    assert {"requiredLabels", "gpuLimits", "spot", "sizeEnvelope", "gpuTaint", "budget"} <= kinds
    assert len(rules) == len(kinds)
    for ref in rules:
        rule = generated["$defs"][ref["$ref"].rpartition("/")[2]]
        assert rule["additionalProperties"] is False
        (kind,) = kinds & set(rule["properties"])
        assert kind in rule["required"]
        kinds.discard(kind)
    assert not kinds
    assert "Mandatory (must be present)" in json.dumps(generated["$defs"]["LabelRequirement"])
