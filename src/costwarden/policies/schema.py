"""The JSON Schema of the policy language, generated from the models, for editors.

The shipped copy is `src/costwarden/data/schema/costwarden.io_v1alpha1.json`, inside the
package (a test keeps it identical to what this generates). Point an editor at it, e.g.
`# yaml-language-server: $schema=<path to that file>` atop a policy file. Regenerate:
`python -m costwarden.policies.schema > src/costwarden/data/schema/costwarden.io_v1alpha1.json`.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import textwrap
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from costwarden.policies import models, suites

SCHEMA_ID = "https://costwarden.io/schemas/costwarden.io_v1alpha1.json"

Document = Annotated[
    models.CostPolicy | models.PolicyException | suites.PolicyTest, Field(discriminator="kind")
]


class _WithAttributeDocs(GenerateJsonSchema):
    """Field descriptions from the models' attribute docstrings (the string under a field).

    pydantic can collect these as each model class is created (`use_attribute_docstrings`),
    but that reads every module's source at import: every `costwarden check` would pay for
    what only this schema uses. So they are read here, when the schema is made."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        cls = schema["cls"]
        properties = json_schema.get("properties") or {}
        for name, doc in _attribute_docs(cls).items():
            field = cls.model_fields.get(name)
            key = (field.alias if field is not None else None) or name
            if key in properties and "description" not in properties[key]:
                properties[key]["description"] = doc
        return json_schema


def _attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring under it, in `cls` and the classes it inherits from."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue  # built-ins, and models made at run time (the rule models)
        tree = ast.parse(source).body[0]
        if not isinstance(tree, ast.ClassDef):
            continue
        body = tree.body
        for statement, after in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[statement.target.id] = inspect.cleandoc(after.value.value)
    return docs


def json_schema() -> dict[str, Any]:
    schema = TypeAdapter(Document).json_schema(
        by_alias=True, mode="validation", schema_generator=_WithAttributeDocs
    )
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
