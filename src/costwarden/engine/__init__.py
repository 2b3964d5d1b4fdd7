"""The policy engine: evaluate(request, policies, catalog, context) -> Verdict (pure)."""
