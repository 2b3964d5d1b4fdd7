"""The JSON Schema of the policy language, generated from the models, for editors.

The shipped copy is `src/costwarden/data/schema/costwarden.io_v1alpha1.json`, inside the
package (a test keeps it identical to what this generates). Point an editor at it, e.g.
`# yaml-language-server: $schema=<path to that file>` atop a policy file. Regenerate:
`python -m costwarden.policies.schema > src/costwarden/data/schema/costwarden.io_v1alpha1.json`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from costwarden.policies import models, suites

SCHEMA_ID = "https://costwarden.io/schemas/costwarden.io_v1alpha1.json"

Document = Annotated[
    models.CostPolicy | models.PolicyException | suites.PolicyTest, Field(discriminator="kind")
]


def json_schema() -> dict[str, Any]:
    schema = TypeAdapter(Document).json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "costwarden.io/v1alpha1 policy documents",
        "description": "CostPolicy, PolicyException and PolicyTest documents of costwarden.",
        **schema,
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
