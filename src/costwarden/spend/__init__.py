"""The Prometheus adapter: spend snapshots fetched in the background (httpx)."""
