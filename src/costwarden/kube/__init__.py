"""The Kubernetes client adapter: watched caches of namespaces, pods and workloads."""
