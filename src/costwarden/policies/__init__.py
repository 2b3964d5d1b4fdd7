"""The policy language (costwarden.io/v1alpha1): models, loading and its JSON Schema."""
