"""The Prometheus adapter: spend snapshots fetched in the background (httpx).

- `prometheus`: async client for the Prometheus HTTP API, with its exception tree;
- `queries`, `periods`: what to ask for each budget (default PromQL) and for which period;
- `snapshots`: the background refresher that publishes immutable `SpendSnapshot`s;
- `ledger`: the reservation ledger (admitted cost not yet visible in spend data);
- `tracking`: the pod cost exporter's logic behind `kube/pods.py`.
"""
