"""costwarden: a FinOps admission controller for Kubernetes clusters running AI/ML workloads."""

__version__ = "0.1.0"
