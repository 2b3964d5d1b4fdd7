"""All Prometheus metrics of costwarden, on an injected registry (prometheus_client)."""
