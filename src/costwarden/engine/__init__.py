"""The policy engine: evaluate(request, policies, catalog, context) -> Verdict (pure)."""

from costwarden.engine.contexts import Context, StaticNamespaces, StaticWorkloads
from costwarden.engine.evaluating import evaluate

__all__ = ["Context", "StaticNamespaces", "StaticWorkloads", "evaluate"]
